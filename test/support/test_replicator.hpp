// SPDX-License-Identifier: Apache-2.0
#pragma once

// A replicated log for tests (perdure/eventlog/replicator.hpp): applies
// each group to its event_log on its own thread, in order, like a
// partition owner's read-back, and lets a test decide the fate of one
// group: hold it (and everything behind it) until released, refuse it
// (reported failed, never applied), or apply it and report it failed (an
// ambiguous commit). Header-only: the test support library does not link
// the event log.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/group_codec.hpp"
#include "perdure/eventlog/replicator.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace perdure::test {

class test_replicator final : public eventlog::group_replicator {
 public:
  /// What becomes of a group once it reaches the head of the queue.
  struct fate {
    bool hold = false;  ///< wait there until release()
    status refuse = {}; ///< an error: reported, the group not applied
    status lie = {};    ///< an error: reported after applying the group
  };

  ~test_replicator() override {
    stop();
  }

  /// Starts applying to `log`, which must outlive stop().
  void start(eventlog::event_log* log) {
    log_ = log;
    thread_ = std::thread{[this] { run(); }};
  }

  /// Stops the applying thread; groups not applied yet are never reported.
  void stop() {
    {
      std::lock_guard lock{mu_};
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

  /// The next group handed over gets `f`; later ones are applied.
  void next(fate f) {
    std::lock_guard lock{mu_};
    next_ = std::move(f);
  }

  /// Groups handed over and not yet applied (a held one included).
  std::size_t queued() {
    std::lock_guard lock{mu_};
    return queue_.size();
  }

  /// Lets a held group go on to its fate.
  void release() {
    {
      std::lock_guard lock{mu_};
      for (auto& it : queue_)
        it.f.hold = false;
    }
    cv_.notify_all();
  }

  void replicate(std::string group, group_done done) override {
    std::lock_guard lock{mu_};
    queue_.push_back({std::move(group), std::move(done), std::move(next_)});
    next_ = {};
    cv_.notify_all();
  }

 private:
  struct item {
    std::string bytes;
    group_done done;
    fate f;
  };

  void run() {
    for (;;) {
      item it;
      {
        std::unique_lock lock{mu_};
        cv_.wait(lock, [&] {
          return stop_ || (!queue_.empty() && !queue_.front().f.hold);
        });
        if (stop_)
          return;
        it = std::move(queue_.front());
        queue_.pop_front();
      }
      if (!it.f.refuse) {
        it.done(unexpected{it.f.refuse});
        continue;
      }
      auto g = eventlog::decode_group(it.bytes);
      if (!g) {
        it.done(unexpected{g.as_status()});
        continue;
      }
      auto applied = log_->apply_group(std::move(g->batches), g->now, "n#1");
      if (applied && !it.f.lie)
        it.done(unexpected{it.f.lie});
      else
        it.done(std::move(applied));
    }
  }

  eventlog::event_log* log_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<item> queue_;
  fate next_;
  bool stop_ = false;
  std::thread thread_;
};

/// An event_log in `dir` (process durability) whose groups go to `rep`,
/// started on it.
inline result<std::shared_ptr<eventlog::event_log>> open_replicated(
  const std::filesystem::path& dir, std::shared_ptr<test_replicator> rep) {
  eventlog::options lo;
  lo.dir = dir;
  lo.mode = eventlog::durability::process;
  lo.replicator = rep;
  auto opened = eventlog::event_log::open(std::move(lo));
  if (!opened)
    return unexpected{opened.as_status()};
  std::shared_ptr<eventlog::event_log> log{std::move(*opened)};
  rep->start(log.get());
  return log;
}

} // namespace perdure::test
