// SPDX-License-Identifier: Apache-2.0
#pragma once

// The private state of an event_log, shared by the reader side
// (event_log.cpp) and the group-commit writer (log_writer.cpp).

#include "perdure/eventlog/event_log.hpp"

#include "commit_queue.hpp"
#include "durability.hpp"
#include "encoding.hpp"
#include "journal.hpp"
#include "map_guard.hpp"

#include <lmdb.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>

namespace perdure::eventlog {

namespace detail {

/// A periodic checkpoint in flight: the state it pinned with its meta
/// pages, while data.mdb is synced.
struct checkpoint_job {
  std::uint64_t state = 0;
  std::string meta[2];
  MDB_txn* pin = nullptr;
  std::chrono::steady_clock::time_point started{};
};

} // namespace detail

/// Nanoseconds from `from` to `to`, for the log's time statistics.
inline std::uint64_t ns_between(std::chrono::steady_clock::time_point from,
                                std::chrono::steady_clock::time_point to) {
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
}

/// Maps an LMDB return code to a status naming the call that failed.
status from_mdb(int rc, std::string_view what);

/// As from_mdb, for reads: MDB_BAD_TXN there means LMDB met a damaged page
/// number earlier in the transaction, a corruption.
status from_mdb_read(int rc, std::string_view what);

/// meta "foreign_commits" (FORMAT.md): how many transactions writers beside
/// the owner (options::exclusive off) committed, u64 BE; 0 when absent.
/// Such a writer adds one in each of its transactions (write_group.cpp).
inline constexpr std::string_view foreign_commits_key = "foreign_commits";
result<std::uint64_t> read_foreign_commits(MDB_txn* txn, MDB_dbi meta);

struct event_log::impl {
  options opts;
  /// The change feeds this writer notes (set at open, then read only).
  std::vector<change_feed> feeds;
  MDB_env* env = nullptr;
  MDB_dbi log = 0;      // stream\0seq -> framed record
  MDB_dbi dir = 0;      // stream -> framed stream_entry
  MDB_dbi by_status = 0; // status\0stream -> ""
  MDB_dbi timers = 0;   // due|stream\0tag -> crc
  MDB_dbi offsets = 0;  // key -> i64 + crc
  MDB_dbi blobs = 0;    // sha256 hex -> bytes + crc
  MDB_dbi meta = 0;     // "format" -> version
  int lock_fd = -1;
  int dir_fd = -1; // opts.dir, opened once by a writer (storage_dir.hpp)

  // Readers hold it shared for the life of a read transaction; the writer
  // holds it exclusively while it changes the map size, which LMDB allows
  // only while this process has no transaction open.
  mutable std::shared_timed_mutex resize_mu;

  using pending = detail::pending;
  using done_group = detail::done_group;
  detail::commit_queue queue; // submissions, grouped by the committer
  // Held by whoever takes and commits a group (the writer thread, or a
  // submitting thread leading), so that groups commit in queue order; the
  // fields below marked "committer" are guarded by it.
  std::mutex commit_mu;
  std::atomic<std::thread::id> committer{}; // who holds commit_mu
  std::vector<pending> taken_buf;           // committer
  bool callers_commit = false; // dur->callers_commit(), fixed at start
  // The durability's own threads (set at start): they never lead, since a
  // commit may wait for them (a checkpoint quiesces the syncer).
  std::vector<std::thread::id> durability_threads;
  bool closed = false;        // guarded by close_mu
  std::mutex close_mu; // held by close() until the threads have stopped
  std::thread writer;
  // How groups become durable; chosen at open (durability.hpp).
  std::unique_ptr<detail::group_durability> dur;

  // -- the journal (sync_policy::journal; see journal.hpp) --
  bool journaled = false;       // the exclusive writer, journaling
  bool foreign_sync = false;    // a non-exclusive sync writer
  int foreign_fd = -1;          // its journal-foreign, opened at open
  detail::journal jr;           // opened for every sync writer
  std::uint32_t page_size = 0;
  std::string boot_id;          // this boot's, read once at open
  MDB_txn* pinned = nullptr;    // pins the last checkpoint's snapshot
  std::uint64_t last_txnid = 0; // the last transaction this writer committed
  // meta "foreign_commits" at open (event_log::foreign_commits).
  std::uint64_t foreign_at_open = 0;
  // Written by the committer: when the last checkpoint was, and what came
  // since; atomic, so that the writer reads its deadline without the lock.
  std::atomic<std::uint64_t> txns_since_checkpoint{0};
  std::atomic<std::chrono::steady_clock::time_point> last_checkpoint{};
  std::string entry_buf;
  std::vector<const write_batch*> entry_batches;
  std::mutex orphan_mu;
  std::vector<MDB_txn*> orphan_pins; // pins whose release was not safe

  std::atomic<std::uint64_t> checkpoints{0};
  std::atomic<std::uint64_t> checkpoint_ns{0};
  std::atomic<std::uint64_t> checkpoint_ns_max{0};
  std::atomic<std::uint64_t> writebacks{0};
  std::uint64_t replayed = 0; // transactions replayed at open
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> caller_commits{0};
  std::atomic<std::uint64_t> syncs{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> records{0};
  std::atomic<std::uint64_t> map_grows{0};
  std::atomic<std::uint64_t> commit_ns{0};
  std::atomic<std::uint64_t> sync_ns{0}; // inside journal fdatasyncs
  std::atomic<std::size_t> map_size{0};
  // event_log::observe_commits: called after opts.on_commit (committer).
  using commit_observer = std::function<void(const write_batch&)>;
  std::atomic<std::shared_ptr<const commit_observer>> observer{};
  status grow_failure; // why the map last failed to grow (committer)
  status close_status; // the final checkpoint's or sync's, set by close()

  ~impl();

  /// Closes LMDB's environment and the files (release(), ~impl). With
  /// resize_mu held exclusively, or by the last owner.
  void release_files();

  /// Runs `fn(txn)` inside a read transaction.
  template <class F>
  status with_read(F&& fn) const;

  /// The writer thread's loop (log_loops.cpp).
  void run_writer();

  /// Whether this thread may commit its own batch (see commit_queue).
  bool may_lead() const;

  /// After a push that returned `lead`: commits the queue's next group on
  /// this thread, or wakes the writer when another thread is committing.
  /// `waits`: the submitter waits for its batch (event_log::then::waits).
  void lead(bool waits);

  /// Commits the queue's next group on this thread unless another thread
  /// is committing (false then) or it is held back; `waits` as for lead().
  bool commit_queued(bool waits = false);

  /// Committer: commits `batch` (taken from the queue) and hands the group
  /// to the durability (done_group::waits).
  void commit_taken(std::vector<pending>& batch, bool waits = false);

  /// Commits one group of batches; see log_writer.cpp. Records are
  /// stamped `now` and `writer` when given (apply_group), else the clock's
  /// time and opts.writer_id.
  done_group commit_group(std::vector<pending>& batch, bool& committed,
                          time_ns now = 0, std::string_view writer = {});

  /// Runs a durable (or failed) group's completions, adding its time from
  /// start to commit_ns. On the thread that made it durable.
  void complete(done_group& group);

  /// Syncs LMDB, saves its meta pages as a new journal generation and pins
  /// that snapshot (none when `clean`: the log is closing). Writer thread
  /// only (or open, before it runs); quiesces the durability first.
  status checkpoint(bool clean);

  /// mdb_env_sync, then the meta pages of `state` (the write lock held by
  /// the caller) and, when `pin` is given, a read transaction pinning it.
  status sync_and_pin(std::uint64_t state, std::string (&meta)[2],
                      MDB_txn** pin);

  /// A periodic checkpoint's first part, on the writer thread: under
  /// LMDB's write lock, pins the current state and copies its meta pages.
  /// None when that failed (the previous checkpoint stays in force).
  std::optional<detail::checkpoint_job> pin_checkpoint();

  /// Its last part, once data.mdb is synced (`synced`): journals the
  /// checkpoint entry. The group to make durable (which releases the
  /// previous pin), or none when the checkpoint failed.
  std::optional<done_group> record_checkpoint(detail::checkpoint_job job,
                                              const status& synced);

  /// After a checkpoint's last step: on success `pin` replaces the pinned
  /// snapshot, on failure it is released and `st` returned.
  status swap_pin(status st, MDB_txn* pin);

  /// A non-exclusive sync writer's checkpoint after its commit.
  status foreign_checkpoint();

  /// Reports a problem that failed nothing (options::log, a warning).
  void warn(const status& st) const;

  /// Replays `entries` after a reboot (open, before any writer runs).
  status replay_journal(std::vector<detail::journal_entry> entries,
                        std::uint64_t from_txnid);

  /// Grows the map (doubling, up to the maximum); false when at the maximum.
  bool grow_map();

  /// The error of a batch that does not fit in the map (at its maximum, or
  /// when growing it failed).
  status full_error() const;
};

status begin_read(const event_log::impl& self, MDB_txn*& txn,
                  std::shared_lock<std::shared_timed_mutex>& lock);

template <class F>
status event_log::impl::with_read(F&& fn) const {
  std::shared_lock<std::shared_timed_mutex> lock{resize_mu, std::defer_lock};
  MDB_txn* txn = nullptr;
  if (auto st = begin_read(*this, txn, lock); !st)
    return st;
  status st = fn(txn);
  mdb_txn_abort(txn);
  return st;
}

inline std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

inline MDB_val as_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

/// Visits, with `cur` (a cursor on the log database), the records of
/// `stream` from sequence number `from` on, in order: `fn(seq, key, value)`
/// returns false to stop (it may delete the current entry through `cur`).
/// Returns LMDB's last code: MDB_NOTFOUND or MDB_SUCCESS when the stream's
/// records ended or `fn` stopped, anything else a failure.
template <class F>
int for_each_log_entry(MDB_cursor* cur, std::string_view stream, seq_t from,
                       F&& fn) {
  auto start = detail::log_key(stream, from);
  auto prefix = std::string_view{start}.substr(0, stream.size() + 1);
  MDB_val k = as_val(start), v;
  int rc = detail::safe_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  for (; rc == MDB_SUCCESS;
       rc = detail::safe_cursor_get(cur, &k, &v, MDB_NEXT)) {
    auto key = as_view(k);
    if (key.size() != start.size() || key.substr(0, prefix.size()) != prefix)
      return MDB_NOTFOUND;
    if (!fn(detail::get_be64(key.data() + prefix.size()), key, as_view(v)))
      return MDB_SUCCESS;
  }
  return rc;
}

} // namespace perdure::eventlog
