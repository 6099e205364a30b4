// SPDX-License-Identifier: Apache-2.0
// The redo journal's durability (sync_policy::journal): a committer
// commits a group (its entry written, LMDB not synced) and hands it to the
// syncer thread, whose fdatasync makes it durable; committers go on with
// the next group meanwhile, and after its completions the syncer commits
// what was held back during its sync itself, on its way to the next sync.
// A lone writer that waits for its batch (event_log::then::waits) syncs
// its group on its own thread instead (sync_here): no hand-off.
// Periodic checkpoints run in three parts so that no commit waits for
// LMDB's sync: the writer pins the state and copies its meta pages (under
// the commit lock), syncs data.mdb (without it: background()), then
// journals a checkpoint entry, which the syncer makes durable like a group
// (log_checkpoint.cpp holds the LMDB side). Between checkpoints the writer
// paces data.mdb's write-back. Two threads per log: writer and syncer.
// See journal.hpp and FORMAT.md "Journal".

#include "durability.hpp"

#include "log_impl.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <fcntl.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace perdure::eventlog::detail {

namespace {

class journal_durability final : public group_durability {
 public:
  explicit journal_durability(event_log::impl& self)
    : self_(self), pace_(self.opts.writeback_interval) {
    syncer_ = std::thread{[this] {
      set_thread_name("perdure-sync");
      run_syncer();
    }};
    self.durability_threads = {syncer_.get_id()};
  }

  ~journal_durability() override {
    stop();
  }

  // A commit only writes the journal entry; the syncer waits for the disk.
  bool callers_commit() const override {
    return true;
  }

  std::optional<clock::time_point> deadline() const override {
    std::lock_guard<std::mutex> guard{ckpt_mu_};
    if (phase_ == phase::queued || phase_ == phase::synced)
      return clock::now(); // background() or tick() has work now
    std::optional<clock::time_point> at;
    if (self_.txns_since_checkpoint > 0 && phase_ == phase::idle)
      at = self_.last_checkpoint.load() + self_.opts.checkpoint_interval;
    if (dirty_ && (!at || dirty_at_ + pace_ < *at))
      at = dirty_at_ + pace_;
    return at;
  }

  // Without the commit lock: a queued checkpoint's data sync, or the
  // write-back that paces data.mdb between checkpoints: every
  // options::writeback_interval while commits come, the kernel is asked to
  // start writing the dirty pages (sync_file_range, no wait for the disk),
  // so that the checkpoint's sync finds little left and journal syncs do
  // not queue behind a whole interval of pages.
  void background() override {
    bool sync = false, pace = false;
    {
      std::lock_guard<std::mutex> guard{ckpt_mu_};
      if (phase_ == phase::queued) {
        phase_ = phase::syncing;
        sync = true;
      } else if (dirty_ && clock::now() >= dirty_at_ + pace_) {
        dirty_ = false;
        pace = true;
      }
    }
    int fd = -1;
    mdb_env_get_fd(self_.env, &fd);
    if (pace) {
      ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
      ++self_.writebacks;
      return;
    }
    if (!sync)
      return;
    // Everything the pinned state holds was written before it committed,
    // so this makes it durable.
    int rc = mdb_env_sync(self_.env, 1);
    {
      std::lock_guard<std::mutex> guard{ckpt_mu_};
      synced_ = from_mdb(rc, "mdb_env_sync(checkpoint)");
      phase_ = phase::synced;
    }
    ckpt_done_cv_.notify_all();
  }

  void tick(bool) override {
    bool finish = false, due = false;
    {
      std::lock_guard<std::mutex> guard{ckpt_mu_};
      finish = phase_ == phase::synced;
      due = !finish && phase_ == phase::idle
            && self_.txns_since_checkpoint > 0
            && clock::now() >= self_.last_checkpoint.load()
                                 + self_.opts.checkpoint_interval;
    }
    if (finish)
      finish_checkpoint();
    if (due)
      begin_checkpoint();
  }

  void after_commit(done_group g, bool committed) override {
    // Only under concurrent load (a group of several batches): a lone
    // writer's pages are few, and writing them back early would only put
    // disk work in front of its journal syncs.
    if (committed && pace_.count() > 0 && g.done.size() > 1) {
      bool first = false;
      {
        std::lock_guard<std::mutex> guard{ckpt_mu_};
        if (!dirty_) {
          dirty_ = true;
          dirty_at_ = clock::now();
          first = true;
        }
      }
      if (first)
        self_.queue.wake(); // the writer's deadline moved
    }
    if (g.waits && sync_here(g))
      return;
    to_syncer(std::move(g));
  }

  // Before a synchronous checkpoint (which supersedes a periodic one in
  // flight): wait for a data sync in progress and drop the periodic
  // checkpoint, then for the syncer to complete every group (on the
  // syncer itself, which commits too: complete them here).
  void quiesce() override {
    {
      std::unique_lock<std::mutex> guard{ckpt_mu_};
      ckpt_done_cv_.wait(guard, [this] { return phase_ != phase::syncing; });
      if (phase_ != phase::idle) {
        mdb_txn_abort(job_.pin);
        job_ = {};
        phase_ = phase::idle;
      }
    }
    if (std::this_thread::get_id() == syncer_.get_id()) {
      for (;;) {
        std::deque<done_group> groups;
        {
          std::lock_guard<std::mutex> guard{sync_mu_};
          groups.swap(queue_);
        }
        if (groups.empty())
          return;
        sync_and_complete(groups);
      }
    }
    std::unique_lock<std::mutex> guard{sync_mu_};
    sync_idle_cv_.wait(guard, [this] { return queue_.empty() && !busy_; });
  }

  // What close() returns: without it the last transactions are durable
  // only through the journal, and the next open says so.
  status finish() override {
    return self_.checkpoint(/*clean=*/true);
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> guard{sync_mu_};
      sync_stopping_ = true;
    }
    sync_cv_.notify_all();
    if (syncer_.joinable())
      syncer_.join();
  }

 private:
  enum class phase : std::uint8_t { idle, queued, syncing, synced };

  // A submitter that waits for its group (done_group::waits), on its own
  // thread, when no sync is in flight: syncs and completes the group here,
  // as the syncer would, instead of a hand-off to it and back. Busy meanwhile,
  // so batches submitted meanwhile are held back for the next sync (as
  // during the syncer's), and quiesce() waits for it.
  bool sync_here(done_group& g) {
    {
      std::lock_guard<std::mutex> guard{sync_mu_};
      // Only for a lone writer: under concurrent load (the last sync made
      // several batches durable), this thread is better left to its other
      // work (a CAF worker's other actors) while the syncer waits.
      if (!queue_.empty() || busy_ || sync_stopping_ || g.done.size() > 1
          || last_sync_batches_ > 1)
        return false;
      busy_ = true;
    }
    self_.queue.hold_back(true);
    std::deque<done_group> one;
    one.push_back(std::move(g));
    sync_and_complete(one);
    {
      // What was held back during this sync: the writer commits it (this
      // thread holds the commit lock; hold_back(false) wakes the writer).
      std::lock_guard<std::mutex> guard{sync_mu_};
      sync_over();
    }
    return true;
  }

  // Under sync_mu_, once a sync and its completions are over (the
  // syncer's or sync_here's): with nothing queued, quiesce() may go on and
  // small groups are no longer held back.
  void sync_over() {
    busy_ = false;
    if (queue_.empty()) {
      sync_idle_cv_.notify_all();
      self_.queue.hold_back(false);
    }
  }

  void to_syncer(done_group g) {
    // Small groups wait for this sync to end: see commit_queue.
    self_.queue.hold_back(true);
    {
      std::lock_guard<std::mutex> guard{sync_mu_};
      queue_.push_back(std::move(g));
    }
    sync_cv_.notify_one();
  }

  // Every entry of these groups was written before they were queued, and
  // checkpoints (which switch files) wait for this queue to drain.
  void sync_and_complete(std::deque<done_group>& groups) {
    auto began = clock::now();
    auto st = self_.jr.sync();
    self_.sync_ns += ns_between(began, clock::now());
    ++self_.syncs;
    std::size_t batches = 0;
    for (auto& g : groups)
      batches += g.done.size();
    {
      // No sync in flight now: the callers these completions answer
      // commit their next batches themselves instead of waiting.
      std::lock_guard<std::mutex> guard{sync_mu_};
      last_sync_batches_ = batches;
      if (queue_.empty())
        self_.queue.hold_back(false);
    }
    for (auto& g : groups) {
      if (!st)
        for (auto& r : g.results)
          if (r)
            r = unexpected{st};
      self_.complete(g);
    }
  }

  void run_syncer() {
    std::deque<done_group> groups;
    for (;;) {
      {
        std::unique_lock<std::mutex> guard{sync_mu_};
        sync_over();
        sync_cv_.wait(guard,
                      [this] { return sync_stopping_ || !queue_.empty(); });
        if (queue_.empty())
          return;
        groups.clear();
        groups.swap(queue_);
        busy_ = true;
      }
      sync_and_complete(groups);
      // What was held back during this sync (or queued by completions):
      // committed here, on the way to the next sync, not handed over.
      self_.commit_queued();
    }
  }

  // Part one, on the writer thread: pin the state; background() syncs
  // data.mdb next, without the commit lock.
  void begin_checkpoint() {
    auto job = self_.pin_checkpoint();
    if (!job)
      return; // the next interval tries again
    std::lock_guard<std::mutex> guard{ckpt_mu_};
    job_ = std::move(*job);
    phase_ = phase::queued;
  }

  // Part three, on the writer thread once data.mdb is synced: journal the
  // checkpoint; the syncer makes that entry durable.
  void finish_checkpoint() {
    checkpoint_job job;
    status synced;
    {
      std::lock_guard<std::mutex> guard{ckpt_mu_};
      job = std::move(job_);
      job_ = {};
      synced = synced_;
      phase_ = phase::idle;
    }
    if (auto g = self_.record_checkpoint(std::move(job), synced))
      to_syncer(std::move(*g));
  }

  event_log::impl& self_;
  const std::chrono::milliseconds pace_;

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::condition_variable sync_idle_cv_;
  std::deque<done_group> queue_; // guarded by sync_mu_
  bool busy_ = false;            // guarded by sync_mu_
  std::size_t last_sync_batches_ = 0; // guarded by sync_mu_: made durable
                                      // by the last sync
  bool sync_stopping_ = false;   // guarded by sync_mu_
  std::thread syncer_;

  mutable std::mutex ckpt_mu_;
  std::condition_variable ckpt_done_cv_; // wakes quiesce()
  phase phase_ = phase::idle;            // guarded by ckpt_mu_
  checkpoint_job job_;                   // guarded by ckpt_mu_
  status synced_;                        // guarded by ckpt_mu_
  bool dirty_ = false;         // guarded by ckpt_mu_: commits since the
                               // last write-back
  clock::time_point dirty_at_; // guarded by ckpt_mu_: when dirty_ was set
};

} // namespace

std::unique_ptr<group_durability>
make_journal_durability(event_log::impl& self) {
  return std::make_unique<journal_durability>(self);
}

} // namespace perdure::eventlog::detail
