// SPDX-License-Identifier: Apache-2.0
// The redo journal's durability (sync_policy::journal): the writer commits
// a group (its entry written, LMDB not synced) and hands it to the syncer
// thread, whose fdatasync makes it durable; the writer goes on with the
// next group meanwhile. Periodic checkpoints run in two parts so that the
// writer never waits for LMDB's sync: the writer pins the state and copies
// its meta pages, the checkpointer thread syncs data.mdb, then the writer
// journals a checkpoint entry, which the syncer makes durable like a group
// (log_checkpoint.cpp holds the LMDB side). See journal.hpp and FORMAT.md
// "Journal".

#include "durability.hpp"

#include "log_impl.hpp"

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
    syncer_ = std::thread{[this] { run_syncer(); }};
    checkpointer_ = std::thread{[this] { run_checkpointer(); }};
    self.durability_threads = {syncer_.get_id(), checkpointer_.get_id()};
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
    if (self_.txns_since_checkpoint > 0 && phase_ == phase::idle)
      return self_.last_checkpoint.load() + self_.opts.checkpoint_interval;
    return std::nullopt;
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
    if (committed && pace_.count() > 0 && g.done.size() > 1
        && !dirty_.exchange(true)) {
      // Start pacing data.mdb's write-back (under the lock: the
      // checkpointer may be about to wait).
      { std::lock_guard<std::mutex> guard{ckpt_mu_}; }
      ckpt_cv_.notify_one();
    }
    to_syncer(std::move(g));
  }

  // Before a synchronous checkpoint (which supersedes a periodic one in
  // flight): wait for the checkpointer and drop what it did, then for the
  // syncer to complete every group.
  void quiesce() override {
    {
      std::unique_lock<std::mutex> guard{ckpt_mu_};
      ckpt_done_cv_.wait(guard, [this] { return phase_ != phase::queued; });
      if (phase_ == phase::synced) {
        mdb_txn_abort(job_.pin);
        job_ = {};
        phase_ = phase::idle;
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
      std::lock_guard<std::mutex> guard{ckpt_mu_};
      ckpt_stopping_ = true;
    }
    ckpt_cv_.notify_all();
    if (checkpointer_.joinable())
      checkpointer_.join();
    {
      std::lock_guard<std::mutex> guard{sync_mu_};
      sync_stopping_ = true;
    }
    sync_cv_.notify_all();
    if (syncer_.joinable())
      syncer_.join();
  }

 private:
  enum class phase : std::uint8_t { idle, queued, synced };

  void to_syncer(done_group g) {
    // Small groups wait for this sync to end: see commit_queue.
    self_.queue.hold_back(true);
    {
      std::lock_guard<std::mutex> guard{sync_mu_};
      queue_.push_back(std::move(g));
    }
    sync_cv_.notify_one();
  }

  void run_syncer() {
    std::deque<done_group> groups;
    for (;;) {
      {
        std::unique_lock<std::mutex> guard{sync_mu_};
        busy_ = false;
        if (queue_.empty()) {
          sync_idle_cv_.notify_all();
          self_.queue.hold_back(false);
        }
        sync_cv_.wait(guard,
                      [this] { return sync_stopping_ || !queue_.empty(); });
        if (queue_.empty())
          return;
        groups.clear();
        groups.swap(queue_);
        busy_ = true;
      }
      // Every entry of these groups was written before they were queued,
      // and checkpoints (which switch files) wait for this queue to drain.
      auto st = self_.jr.sync();
      ++self_.syncs;
      {
        // No sync in flight now: the callers these completions answer
        // commit their next batches themselves instead of waiting for
        // this loop to come round.
        std::lock_guard<std::mutex> guard{sync_mu_};
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
  }

  // Part one, on the writer thread: pin the state, then let the
  // checkpointer sync data.mdb while the writer goes on.
  void begin_checkpoint() {
    auto job = self_.pin_checkpoint();
    if (!job)
      return; // the next interval tries again
    {
      std::lock_guard<std::mutex> guard{ckpt_mu_};
      job_ = std::move(*job);
      phase_ = phase::queued;
    }
    ckpt_cv_.notify_one();
  }

  // Between checkpoints it paces data.mdb's write-back: every
  // options::writeback_interval while commits come, it asks the kernel to
  // start writing the dirty pages (sync_file_range, no wait for the disk),
  // so that the checkpoint's sync finds little left and journal syncs do
  // not queue behind a whole interval of pages.
  void run_checkpointer() {
    int fd = -1;
    mdb_env_get_fd(self_.env, &fd);
    for (;;) {
      {
        std::unique_lock<std::mutex> guard{ckpt_mu_};
        auto wake = [this] {
          return ckpt_stopping_ || phase_ == phase::queued;
        };
        if (dirty_)
          ckpt_cv_.wait_for(guard, pace_, wake);
        else
          ckpt_cv_.wait(guard, [&] { return wake() || dirty_; });
        if (phase_ != phase::queued) {
          if (ckpt_stopping_)
            return;
          if (dirty_.exchange(false)) {
            guard.unlock();
            ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
            ++self_.writebacks;
          }
          continue;
        }
      }
      // Everything the pinned state holds was written before it
      // committed, so this makes it durable.
      int rc = mdb_env_sync(self_.env, 1);
      {
        std::lock_guard<std::mutex> guard{ckpt_mu_};
        synced_ = from_mdb(rc, "mdb_env_sync(checkpoint)");
        phase_ = phase::synced;
      }
      self_.queue.wake();
      ckpt_done_cv_.notify_all();
    }
  }

  // Part two, on the writer thread once data.mdb is synced: journal the
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
  bool sync_stopping_ = false;   // guarded by sync_mu_
  std::thread syncer_;

  mutable std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;      // wakes the checkpointer
  std::condition_variable ckpt_done_cv_; // wakes quiesce()
  phase phase_ = phase::idle;            // guarded by ckpt_mu_
  checkpoint_job job_;                   // guarded by ckpt_mu_
  status synced_;                        // guarded by ckpt_mu_
  bool ckpt_stopping_ = false;           // guarded by ckpt_mu_
  std::atomic<bool> dirty_{false}; // commits since the last write-back
  std::thread checkpointer_;
};

} // namespace

std::unique_ptr<group_durability>
make_journal_durability(event_log::impl& self) {
  return std::make_unique<journal_durability>(self);
}

} // namespace perdure::eventlog::detail
