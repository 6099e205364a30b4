// SPDX-License-Identifier: Apache-2.0
#pragma once

// The private state of an event_log, shared by the reader side
// (event_log.cpp) and the group-commit writer (log_writer.cpp).

#include "perdure/eventlog/event_log.hpp"

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

/// Maps an LMDB return code to a status naming the call that failed.
status from_mdb(int rc, std::string_view what);

/// As from_mdb, for reads: MDB_BAD_TXN there means LMDB met a damaged page
/// number earlier in the transaction, a corruption.
status from_mdb_read(int rc, std::string_view what);

struct event_log::impl {
  options opts;
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
  mutable std::shared_mutex resize_mu;

  struct pending {
    write_batch batch;
    completion done;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<pending> queue;
  bool stopping = false;
  bool closed = false;
  std::mutex close_mu; // held by close() until the threads have stopped
  std::thread writer;

  // A committed group's completions with their results. They run, in
  // commit order, on the thread that made the group durable (the journal's
  // syncer, or the writer), without a relay thread.
  struct done_group {
    std::vector<completion> done;
    std::vector<result<commit_info>> results;
    std::chrono::steady_clock::time_point started{};
  };

  // -- the journal (sync_policy::journal; see journal.hpp) --
  bool journaled = false;       // the exclusive writer, journaling
  bool foreign_sync = false;    // a non-exclusive sync writer
  int foreign_fd = -1;          // its journal-foreign, opened at open
  detail::journal jr;           // opened for every sync writer
  std::uint32_t page_size = 0;
  std::string boot_id;          // this boot's, read once at open
  MDB_txn* pinned = nullptr;    // pins the last checkpoint's snapshot
  std::uint64_t last_txnid = 0; // the last transaction this writer committed
  std::uint64_t txns_since_checkpoint = 0;
  std::chrono::steady_clock::time_point last_checkpoint;
  std::string entry_buf;
  std::vector<const write_batch*> entry_batches;

  // Groups whose journal entries are written wait here for the syncer
  // thread's fdatasync, which then runs their completions in order.
  std::mutex sync_mu;
  std::condition_variable sync_cv;
  std::condition_variable sync_idle_cv;
  std::deque<done_group> sync_queue;
  bool sync_busy = false;
  bool syncing = false; // (under mu) groups are with the syncer
  // Batches that make a group worth committing while a sync runs.
  static constexpr std::size_t eager_group_size = 32;
  bool sync_stopping = false;
  std::thread syncer;

  // Periodic checkpoints run in two parts so that the writer never waits
  // for LMDB's sync: the writer pins the state and copies its meta pages
  // (begin_async_checkpoint), the checkpointer thread syncs data.mdb, then
  // the writer journals a checkpoint entry; the previous pin goes once that
  // entry is durable. States (under mu): idle, queued, synced.
  enum class ckpt_phase : std::uint8_t { idle, queued, synced };
  struct async_ckpt {
    std::uint64_t state = 0;
    std::string meta[2];
    MDB_txn* pin = nullptr;
    std::chrono::steady_clock::time_point started{};
  };
  ckpt_phase ckpt = ckpt_phase::idle;
  async_ckpt ckpt_job;
  status ckpt_status;
  bool ckpt_stopping = false;
  std::condition_variable ckpt_cv;      // wakes the checkpointer
  std::condition_variable ckpt_done_cv; // wakes a writer waiting for it
  std::thread checkpointer;
  std::mutex orphan_mu;
  std::vector<MDB_txn*> orphan_pins; // pins whose release was not safe

  std::atomic<std::uint64_t> checkpoints{0};
  std::atomic<std::uint64_t> checkpoint_ns{0};
  std::atomic<std::uint64_t> checkpoint_ns_max{0};
  std::uint64_t replayed = 0; // transactions replayed at open
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> syncs{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> records{0};
  std::atomic<std::uint64_t> map_grows{0};
  std::atomic<std::uint64_t> commit_ns{0};
  std::atomic<std::size_t> map_size{0};
  status grow_failure; // why the map last failed to grow (writer thread)
  status close_status; // the final checkpoint's or sync's, set by close()

  ~impl();

  /// Runs `fn(txn)` inside a read transaction.
  template <class F>
  status with_read(F&& fn) const;

  /// The writer thread's loop.
  void run_writer();
  void run_journal_writer();

  /// Commits one group of batches; see log_writer.cpp.
  done_group commit_group(std::vector<pending>& batch, bool& committed);

  /// Runs a durable (or failed) group's completions, adding its time from
  /// start to commit_ns. On the thread that made it durable.
  void complete(done_group& group);

  /// The journal syncer's loop.
  void run_syncer();

  /// Waits until every group handed to the syncer is completed.
  void drain_syncer();

  /// Syncs LMDB, saves its meta pages as a new journal generation and pins
  /// that snapshot (none when `clean`: the log is closing). Writer thread
  /// only, with the syncer drained.
  status checkpoint(bool clean);

  /// mdb_env_sync, then the meta pages of `state` (the write lock held by
  /// the caller) and, when `pin` is given, a read transaction pinning it.
  status sync_and_pin(std::uint64_t state, std::string (&meta)[2],
                      MDB_txn** pin);

  /// The periodic checkpoint's parts (writer thread) and the thread that
  /// syncs LMDB for it.
  void begin_async_checkpoint();
  void finish_async_checkpoint();
  void drop_async_checkpoint();
  void run_checkpointer();

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
                  std::shared_lock<std::shared_mutex>& lock);

template <class F>
status event_log::impl::with_read(F&& fn) const {
  std::shared_lock<std::shared_mutex> lock{resize_mu, std::defer_lock};
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

} // namespace perdure::eventlog
