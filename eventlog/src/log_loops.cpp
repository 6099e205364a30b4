// SPDX-License-Identifier: Apache-2.0
// The log's threads: the writer's loops (with the journal and without)
// and the journal syncer; completions run in commit order on whichever
// made their group durable. The commit itself is log_writer.cpp's, checkpoints are
// log_checkpoint.cpp's.

#include "log_impl.hpp"

#include <chrono>
#include <optional>

#include <fmt/format.h>

namespace perdure::eventlog {

using namespace detail;

void event_log::impl::complete(done_group& group) {
  commit_ns += static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now() - group.started)
      .count());
  for (std::size_t i = 0; i < group.done.size(); ++i)
    if (group.done[i])
      group.done[i](std::move(group.results[i]));
}

// The writer's loop. With the pipelined sync policy a committed group is
// held back until its meta page is durable: the next commit's fdatasync
// flushes it, and when no batch is waiting an explicit sync does.
// The writer's loop with the journal: commit (entry written, LMDB not
// synced), hand the group to the syncer, go on with the next group while
// the syncer's fdatasync runs. Checkpoints come every checkpoint_interval
// while there are writes, and once more, clean, at close.
void event_log::impl::run_journal_writer() {
  std::vector<pending> batch;
  for (;;) {
    bool due = false;
    bool finish = false;
    {
      std::unique_lock<std::mutex> guard{mu};
      auto until = last_checkpoint + opts.checkpoint_interval;
      // While a journal sync runs, batches wait for it to end (or for a
      // large group): committing them earlier would not make them durable
      // sooner, only the groups smaller.
      auto ready = [this] {
        return stopping || ckpt == ckpt_phase::synced
               || (!queue.empty()
                   && (!syncing || queue.size() >= eager_group_size));
      };
      if (txns_since_checkpoint > 0 && ckpt == ckpt_phase::idle)
        cv.wait_until(guard, until, ready);
      else
        cv.wait(guard, ready);
      finish = ckpt == ckpt_phase::synced;
      due = txns_since_checkpoint > 0 && ckpt == ckpt_phase::idle
            && std::chrono::steady_clock::now() >= until;
      if (!due && !finish && queue.empty() && stopping)
        break;
      auto n = std::min(queue.size(), opts.max_batches_per_commit);
      batch.clear();
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    if (finish)
      finish_async_checkpoint();
    if (due)
      // A failed checkpoint leaves the previous one in force; the next
      // interval tries again.
      begin_async_checkpoint();
    if (batch.empty())
      continue;
    auto t0 = std::chrono::steady_clock::now();
    bool committed = false;
    auto group = commit_group(batch, committed);
    ++commits;
    group.started = t0;
    {
      std::lock_guard<std::mutex> guard{mu};
      syncing = true;
    }
    {
      std::lock_guard<std::mutex> guard{sync_mu};
      sync_queue.push_back(std::move(group));
    }
    sync_cv.notify_one();
  }
  // What close() returns: without it the last transactions are durable
  // only through the journal, and the next open says so.
  close_status = checkpoint(true);
}


void event_log::impl::run_syncer() {
  std::deque<done_group> groups;
  for (;;) {
    {
      std::unique_lock<std::mutex> guard{sync_mu};
      sync_busy = false;
      if (sync_queue.empty()) {
        sync_idle_cv.notify_all();
        // Tell the writer that the batches it holds back can go.
        std::lock_guard<std::mutex> g{mu};
        if (syncing) {
          syncing = false;
          cv.notify_one();
        }
      }
      sync_cv.wait(guard,
                   [this] { return sync_stopping || !sync_queue.empty(); });
      if (sync_queue.empty())
        return;
      groups.clear();
      groups.swap(sync_queue);
      sync_busy = true;
    }
    // Every entry of these groups was written before they were queued, and
    // checkpoints (which switch files) wait for this queue to drain.
    auto st = jr.sync();
    ++syncs;
    for (auto& g : groups) {
      if (!st)
        for (auto& r : g.results)
          if (r)
            r = unexpected{st};
      complete(g);
    }
  }
}

void event_log::impl::drain_syncer() {
  std::unique_lock<std::mutex> guard{sync_mu};
  sync_idle_cv.wait(guard, [this] { return sync_queue.empty() && !sync_busy; });
}

void event_log::impl::run_writer() {
  if (journaled) {
    run_journal_writer();
    return;
  }
  const bool pipelined =
    opts.mode == durability::sync && opts.sync == sync_policy::pipelined;
  std::vector<pending> batch;
  std::optional<done_group> held;
  // Makes the held group durable with one fdatasync and hands it over.
  auto sync_held = [&] {
    if (!held)
      return;
    if (int rc = mdb_env_sync(env, 1); rc != MDB_SUCCESS) {
      auto failure = from_mdb(rc, "mdb_env_sync");
      for (auto& r : held->results)
        if (r)
          r = unexpected{failure};
    }
    ++syncs;
    complete(*held);
    held.reset();
  };
  for (;;) {
    {
      std::unique_lock<std::mutex> guard{mu};
      if (held && queue.empty()) {
        guard.unlock();
        sync_held();
        guard.lock();
      }
      cv.wait(guard, [this] { return stopping || !queue.empty(); });
      if (queue.empty())
        return;
      auto n = std::min(queue.size(), opts.max_batches_per_commit);
      batch.clear();
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    auto t0 = std::chrono::steady_clock::now();
    bool committed = false;
    auto group = commit_group(batch, committed);
    ++commits;
    group.started = t0;
    if (held) {
      // This commit's fdatasync flushed the held group's meta page; without
      // a commit, sync explicitly.
      if (committed) {
        complete(*held);
        held.reset();
      } else {
        sync_held();
      }
    }
    if (pipelined && committed)
      held = std::move(group);
    else
      complete(group);
  }
}

} // namespace perdure::eventlog
