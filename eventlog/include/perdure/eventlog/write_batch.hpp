// SPDX-License-Identifier: Apache-2.0
#pragma once

// A write_batch collects appends and side-database updates that commit
// atomically: either every operation in it becomes durable or none does.

#include "perdure/eventlog/types.hpp"

#include <optional>
#include <string>
#include <vector>

namespace perdure::eventlog {

/// The operations of one atomic commit. Build it, then hand it to
/// `event_log::commit` or `event_log::submit`. Not thread-safe; cheap to move.
class write_batch {
 public:
  // -- records ---------------------------------------------------------------

  /// Appends a record to `stream`; the stream is created (kind `other`) on its
  /// first append unless `create` named it first.
  write_batch& append(std::string_view stream, std::uint16_t kind,
                      std::string payload);

  /// The batch fails with `conflict` (writing nothing) unless `stream`'s last
  /// sequence number is `last` when the batch is applied (0: the stream must
  /// not exist or be empty).
  write_batch& expect_last(std::string_view stream, seq_t last);

  // -- stream directory ------------------------------------------------------

  /// Creates the directory entry of `stream` when it does not exist yet, with
  /// the given kind and metadata (kept when it exists).
  write_batch& create(std::string_view stream, stream_kind kind,
                      std::string metadata = {});

  /// Sets the indexed status text of `stream` (at most max_status_size).
  write_batch& set_status(std::string_view stream, std::string status);

  /// Replaces the user metadata of `stream`.
  write_batch& set_metadata(std::string_view stream, std::string metadata);

  /// Records that a snapshot of `stream` covers records up to `seq`.
  write_batch& set_snapshot(std::string_view stream, seq_t seq);

  /// Deletes records of `stream` with a sequence number below `seq`.
  write_batch& drop_before(std::string_view stream, seq_t seq);

  /// Deletes `stream` wholly: records, directory entry, index entries and its
  /// timers. The id may be used again afterwards, starting at seq 1.
  write_batch& remove(std::string_view stream);

  // -- side databases --------------------------------------------------------

  /// Adds a durable timer.
  write_batch& put_timer(time_ns due, std::string_view stream,
                         std::string_view tag);

  /// Removes a durable timer (no error when it does not exist).
  write_batch& remove_timer(time_ns due, std::string_view stream,
                            std::string_view tag);

  /// Sets a source offset, e.g. key "kafka/orders/3" to the next offset.
  write_batch& put_offset(std::string_view key, std::int64_t value);

  /// Stores `bytes` content-addressed and returns its key (32 bytes of
  /// SHA-256, hex-encoded to 64 chars). Storing the same bytes twice keeps one.
  std::string put_blob(std::string bytes);

  // -- change feeds ----------------------------------------------------------
  /// Appends to `feed` a `change_note` record naming `source`, `kind` and
  /// the seq that the last append to `source` before this op in this batch
  /// gets (eventlog/FORMAT.md, "Change feeds"). The batch fails
  /// `invalid_argument` when no such append precedes it. The log adds these
  /// itself for the feeds of options::change_feeds.
  write_batch& note(std::string_view feed, std::string_view source,
                    std::uint16_t kind);

  // -- inspection ------------------------------------------------------------

  bool empty() const noexcept {
    return ops_.empty();
  }
  std::size_t size() const noexcept {
    return ops_.size();
  }
  /// How many records the batch appends.
  std::size_t record_count() const noexcept {
    return records_;
  }

  /// One operation; public so the log can apply it, not for users.
  struct op {
    enum class type : std::uint8_t {
      append,
      expect_last,
      create,
      set_status,
      set_metadata,
      set_snapshot,
      drop_before,
      remove,
      put_timer,
      remove_timer,
      put_offset,
      put_blob,
      note, // stream: the feed, data: the source stream, number: its kind
    };
    type what;
    std::string stream; // or key, or blob hash
    std::string data;   // payload, metadata, status, tag, blob bytes
    std::uint64_t number = 0; // kind, seq, due, offset
  };
  const std::vector<op>& ops() const noexcept {
    return ops_;
  }

  /// Rebuilds a batch from the ops() of another; for the log's journal
  /// replay, not for users (nothing is checked here; the commit checks).
  static write_batch from_ops(std::vector<op> ops);

 private:
  std::vector<op> ops_;
  std::size_t records_ = 0;
};

/// What a successful commit assigned: the sequence number of each appended
/// record, in the order of the batch's `append` calls.
struct commit_info {
  std::vector<seq_t> seqs;
  time_ns committed_at = 0;
};

} // namespace perdure::eventlog
