// SPDX-License-Identifier: Apache-2.0
#pragma once

// A partition's own LMDB store (an eventlog::event_log) as a
// replica_store: each group's bytes are one group commit in the journal's
// encoding (eventlog/group_codec.hpp), applied with event_log::apply_group
// as one LMDB transaction together with the fencing rule's state after it.
// So the applied offset and fence state never disagree with the data,
// whatever the moment a process dies.

#include "perdure/cluster/partition_replica.hpp"
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/group_codec.hpp"
#include "perdure/eventlog/records/cluster.hpp"

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace perdure::cluster {

/// The stream whose directory metadata holds a store's fence_state.
using cluster_records::fence_stream;

/// The bytes of a group entry carrying `batches` stamped `now`, as
/// lmdb_replica_store applies them (eventlog::encode_group).
std::string encode_group_bytes(eventlog::time_ns now,
                               std::span<const eventlog::write_batch> batches);

/// A fence_state as stored (version byte, next, epoch, last_sequence,
/// incarnation, node id), and back. Errors: corruption.
std::string encode_fence_state(const fence_state& s);
result<fence_state> decode_fence_state(std::string_view bytes);

/// A replica_store over one partition's event_log.
///
/// apply() commits each group in its own LMDB transaction (groups carry
/// their own time stamp and writer, so that every replica stores the same
/// records whatever batches it read them in), with the fence state right
/// after that group (for an effective group at offset o: next o+1, its
/// epoch, writer and sequence; the last one: `after`). A group at an offset
/// below the stored resume point is skipped, so applying again what is
/// already stored (a replica resuming behind its store, or a retry after a
/// failure between two transactions) changes nothing. Batches the log
/// refuses (an expect_last conflict) are refused on every replica alike:
/// they are the group's outcome, not a store error.
class lmdb_replica_store final : public replica_store {
 public:
  /// Called after each applied group with its offset and the result of
  /// each of its batches (in order), on the applying thread.
  using observer = std::function<void(
    log_offset, std::span<const result<eventlog::commit_info>>)>;

  /// Opens (creating) the store in `opts.dir`. The log is the durability
  /// in cluster mode, so options default to durability::process; journal
  /// mode works too. Errors: those of event_log::open.
  static result<std::unique_ptr<lmdb_replica_store>>
  open(eventlog::options opts);

  /// Uses an open event_log (which must outlive the store).
  explicit lmdb_replica_store(eventlog::event_log& log);

  result<fence_state> load() override;
  status apply(std::span<const applied_group> groups,
               const fence_state& after) override;

  /// Set before the first apply().
  void on_applied(observer fn) {
    observer_ = std::move(fn);
  }

  /// The partition's event log (reads; and writes only through apply()).
  eventlog::event_log& log() noexcept {
    return log_;
  }
  /// The log as shared by open() (empty for a store over a borrowed log):
  /// it may outlive the store, closed or not.
  std::shared_ptr<eventlog::event_log> shared_log() const noexcept {
    return owned_;
  }

 private:
  status commit(std::vector<eventlog::write_batch> batches,
                eventlog::time_ns now, std::string_view writer,
                const fence_state& state, log_offset offset);

  std::shared_ptr<eventlog::event_log> owned_;
  eventlog::event_log& log_;
  observer observer_;
  bool loaded_ = false;
  fence_state stored_;
};

} // namespace perdure::cluster
