// SPDX-License-Identifier: Apache-2.0
#pragma once

// The durable store of perdure: append-only streams in one LMDB environment,
// with side databases (directory, status index, timers, offsets, blobs) kept
// in the same transactions, and a group-commit writer. See FORMAT.md.

#include "perdure/eventlog/status.hpp"
#include "perdure/eventlog/types.hpp"
#include "perdure/eventlog/write_batch.hpp"

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace perdure::eventlog {

/// Figures about the writer, for metrics and benchmarks.
struct log_stats {
  std::uint64_t commits = 0;       ///< LMDB write transactions committed
  std::uint64_t caller_commits = 0; ///< of those, not by the writer thread
  std::uint64_t batches = 0;       ///< write_batches committed
  std::uint64_t records = 0;       ///< records appended
  std::uint64_t map_grows = 0;     ///< times the map was enlarged
  std::uint64_t syncs = 0;         ///< explicit syncs: journal fdatasyncs, or (pipelined) idle-queue syncs
  std::uint64_t checkpoints = 0;   ///< durable journal checkpoints
  std::uint64_t checkpoint_ns_total = 0; ///< time spent in checkpoints, summed
  std::uint64_t checkpoint_ns_max = 0;   ///< the longest checkpoint
  std::uint64_t writebacks = 0;    ///< paced write-backs (journal)
  std::uint64_t commit_ns_total = 0; ///< commit start to durable, summed
  std::uint64_t sync_ns_total = 0; ///< time inside the journal's fdatasyncs, summed
  std::size_t map_size = 0;        ///< current map size in bytes
};

/// Size figures of one LMDB database of the log.
struct db_stats {
  std::string name;           ///< "log", "dir", "status", "timers", ...
  std::uint64_t entries = 0;
  std::uint64_t pages = 0;    ///< branch + leaf + overflow pages
  std::uint32_t depth = 0;
};

/// Size figures of the whole storage, for tools.
struct storage_stats {
  std::size_t page_size = 0;
  std::size_t map_size = 0;       ///< the current map size in bytes
  std::size_t used_bytes = 0;     ///< up to the last page in use
  std::vector<db_stats> dbs;
};

/// One damaged record or entry found by `verify`.
struct damage {
  std::string stream; ///< stream id, or the side database's name
  seq_t seq = 0;      ///< sequence number (0 for side databases)
  std::string what;   ///< what is wrong
};

/// An open event log. All member functions are thread-safe. Reads run
/// concurrently with each other and with the writer; writes are batched
/// (group commit) by one committer at a time: the log's writer thread or,
/// in `process` mode and with the journal (where a commit never waits for
/// the disk), the submitting thread itself when no sync holds groups back.
class event_log {
 public:
  using completion = std::function<void(result<commit_info>)>;

  /// Opens (creating when needed) the log in `opts.dir`. Fails `busy` when
  /// another process or object already holds the directory for writing,
  /// `invalid_argument` for bad options, `io` when LMDB cannot open it,
  /// `unsupported` for a format version this build does not know, and
  /// `corruption` (naming the file and byte) when the journal's recovery
  /// cannot be proven: a damaged or cut-short journal, a lost newer
  /// generation, a data.mdb missing beside a journal, older than its
  /// checkpoint or not holding its pages; the storage's files are then
  /// left as they were (FORMAT.md, "Recovery"; recovery.hpp).
  static result<std::unique_ptr<event_log>> open(options opts);

  ~event_log();
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;

  // -- writing -----------------------------------------------------------------

  /// What a submitter does until its batch completes (a hint, see submit()).
  enum class then : std::uint8_t {
    /// It may submit more meanwhile: a sync in flight gathers them into
    /// the next group (a fan-out submitting batch after batch).
    goes_on,
    /// It submits nothing until this batch completes (a sequential
    /// writer: one step, one actor call at a time). With the journal, when
    /// no sync is in flight and the last one made at most one batch
    /// durable (a lone writer, not concurrent load), the thread that
    /// commits the group inside this submit() also syncs it and runs its
    /// completions there, instead of handing it to the syncer thread and
    /// being woken back: one fdatasync on this thread, no hand-off.
    /// Batches others submit meanwhile wait for that sync as they would
    /// for the syncer's.
    waits
  };

  /// Queues `batch` for the next group commit and calls `done` once it is
  /// durable per the durability mode, or failed. Completions run in commit
  /// order on the thread that made their group durable: the journal's
  /// syncer, the writer, or a thread that committed (`process` mode) or
  /// synced (the journal, then::waits) the group inside its own submit(),
  /// which may be this call. So the next commit waits for them: `done`
  /// must be quick, must not call commit() or close(), wait for another
  /// completion, or take a lock that a caller of submit() may hold (it may
  /// call submit()).
  void submit(write_batch batch, completion done, then after = then::goes_on);

  /// As submit(), with a future.
  std::future<result<commit_info>> submit(write_batch batch);

  /// Submits `batch` (then::waits) and waits until it is durable.
  result<commit_info> commit(write_batch batch);

  /// Appends one record to `stream` and waits; `expected_last` (when given)
  /// is an optimistic check. Returns the record's sequence number.
  result<seq_t> append(std::string_view stream, std::uint16_t kind,
                       std::string payload,
                       std::optional<seq_t> expected_last = std::nullopt);

  /// For the cluster's replicas (perdure/cluster), not for users: commits
  /// `batches` as ONE LMDB transaction, in order, each validated as by
  /// submit() (a refused one writes nothing and gets its error), records
  /// stamped `now` and `writer_id` (the group's, as its owner wrote it, so
  /// that every replica stores the same); returns once durable per the
  /// durability mode, with one result per batch. Errors of the whole
  /// transaction (full, io; closed after close(); unsupported unless the
  /// durability lets a caller commit: process mode or the journal): then
  /// nothing was written.
  result<std::vector<result<commit_info>>>
  apply_group(std::vector<write_batch> batches, time_ns now,
              std::string_view writer_id);

  /// Makes `fn` see every batch that commits from now on, as
  /// options::on_commit does (after it, same contract): for an engine
  /// running on a log it did not open (a cluster node's partition store).
  /// One observer at a time: false (nothing changed) when one is set
  /// already; an empty `fn` removes it (always true). Once this returns,
  /// a removed observer is not called by commits that start later.
  bool observe_commits(std::function<void(const write_batch&)> fn);

  // -- reading -----------------------------------------------------------------

  /// Records of `stream` with seq >= `from`, at most `max` of them. An unknown
  /// stream is `not_found`; a damaged record is `corruption` naming stream
  /// and seq.
  result<std::vector<record>> read(std::string_view stream, seq_t from = 1,
                                   std::size_t max = SIZE_MAX) const;

  /// Calls `fn` for each record of `stream` from `from` on, in place (no
  /// copy), until it returns false. Same errors as read().
  status scan(std::string_view stream, seq_t from,
              const std::function<bool(const record_view&)>& fn) const;

  /// The newest record of `stream`; `not_found` when it has none.
  result<record> read_last(std::string_view stream) const;

  /// The directory entry of `stream`.
  result<stream_info> info(std::string_view stream) const;

  /// How many transactions the writers beside the owner (options::
  /// exclusive off: tools such as `perdure cancel`, `perdure signal`,
  /// `perdure promise`) committed since this log opened: exact, counted in
  /// their own transactions (meta "foreign_commits", FORMAT.md), so never
  /// the owner's. A reader that polls for changes made elsewhere compares
  /// it with the value of its last look: what such a writer committed
  /// before the call is readable after it. A tool older than this count
  /// does not add to it. Errors as info() (`closed` once released,
  /// `corruption` for a damaged count).
  result<std::uint64_t> foreign_commits() const;

  /// Streams whose status is `status_text` (from the status index, without
  /// scanning other streams), in id order, at most `limit`; with `after`,
  /// only ids after it (the next page: the last id of this one).
  result<std::vector<stream_info>> list_by_status(
    std::string_view status_text, std::size_t limit = SIZE_MAX,
    std::string_view after = {}) const;

  /// All streams in id order, optionally from one kind, at most `limit`.
  result<std::vector<stream_info>> list(std::optional<stream_kind> kind = {},
                                        std::size_t limit = SIZE_MAX) const;

  /// A page of the streams whose id starts with `prefix`, in id order:
  /// those after id `after` (exclusive; empty: from the first), at most
  /// `limit`. Reads only those entries (a cursor from the prefix), so a
  /// page costs the same with a million other streams. The next page:
  /// `after` = the last id of this one.
  result<std::vector<stream_info>> list_prefix(
    std::string_view prefix, std::string_view after = {},
    std::size_t limit = SIZE_MAX) const;

  /// Timers due at or before `until`, earliest first, at most `max`.
  result<std::vector<timer_entry>> timers_due(time_ns until,
                                              std::size_t max = SIZE_MAX) const;

  /// The earliest timer, if any.
  result<std::optional<timer_entry>> next_timer() const;

  /// The stored source offset under `key`, if any.
  result<std::optional<std::int64_t>> offset(std::string_view key) const;

  /// The stored source offsets whose key starts with `prefix` (e.g.
  /// "kafka/"), in key order, at most `limit`; a damaged entry is
  /// `corruption` naming its key.
  result<std::vector<std::pair<std::string, std::int64_t>>> list_offsets(
    std::string_view prefix, std::size_t limit = SIZE_MAX) const;

  /// The blob stored under `key` (as returned by write_batch::put_blob).
  result<std::string> blob(std::string_view key) const;

  /// Reads the blob in place; the view is valid only inside `fn`.
  status with_blob(std::string_view key,
                   const std::function<void(std::string_view)>& fn) const;

  /// Checks every record and side entry: checksum, envelope schema,
  /// directory consistency. `progress(done, total)` is called now and then.
  /// Returns the damage found (empty when all is well).
  result<std::vector<damage>> verify(
    const std::function<void(std::uint64_t, std::uint64_t)>& progress = {}) const;

  // -- state -------------------------------------------------------------------

  const options& opts() const noexcept;
  log_stats stats() const;

  /// Entries and pages of every database, map size and usage.
  result<storage_stats> storage() const;

  /// Stops the writer after committing what is queued and returns the
  /// status of the final checkpoint (sync_policy::journal: LMDB synced and
  /// the journal marked clean); ok for other policies, whose commits are
  /// durable when acknowledged. A failed final checkpoint loses nothing
  /// (the journal still holds every acknowledged transaction and the next
  /// open replays it when needed) but is the caller's to report: `full`,
  /// `permission` or `io` with the failed call. Later writes fail `closed`;
  /// reads keep working. Later calls return the same status (waiting for
  /// a close in progress). The destructor calls it and drops the status.
  status close();

  /// After close(): gives the storage up (LMDB's environment, the lock
  /// file) so that it can be opened again while this object still lives,
  /// held by code that outlived its owner (an abandoned actor method);
  /// later reads fail `closed`. Waits up to `wait` for reads in progress;
  /// false (the storage stays open until this object goes) when they did
  /// not end by then. Called by ~engine.
  bool release(std::chrono::milliseconds wait);

  /// The implementation; defined inside the module only.
  struct impl;

 private:
  explicit event_log(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace perdure::eventlog
