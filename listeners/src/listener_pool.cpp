// SPDX-License-Identifier: Apache-2.0
#include "listener_pool.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <condition_variable>
#include <map>
#include <list>
#include <mutex>
#include <thread>

namespace perdure::detail {

namespace {

struct worker {
  std::thread thread;
  bool busy = false;
  bool exited = false;
};

} // namespace

// Shared by the pool and its threads.
struct listener_pool::core {
  std::size_t max_threads = 1;
  mutable std::mutex mu;
  std::condition_variable cv;      ///< workers wait for jobs
  std::condition_variable changed; ///< stop waits for workers
  using clock = std::chrono::steady_clock;
  std::multimap<clock::time_point, std::function<void()>> jobs;
  std::list<worker> workers;
  std::size_t idle = 0;
  bool stop = false;

  static void work(const std::shared_ptr<core>& self, worker* me) {
    auto& c = *self;
    std::unique_lock guard{c.mu};
    for (;;) {
      ++c.idle;
      while (!c.stop) {
        if (c.jobs.empty()) {
          c.cv.wait(guard);
          continue;
        }
        auto due = c.jobs.begin()->first;
        if (due <= clock::now())
          break;
        c.cv.wait_until(guard, due);
      }
      --c.idle;
      if (c.stop)
        break;
      auto job = std::move(c.jobs.begin()->second);
      c.jobs.erase(c.jobs.begin());
      me->busy = true;
      guard.unlock();
      job();
      job = nullptr;
      guard.lock();
      me->busy = false;
    }
    me->exited = true;
    c.changed.notify_all();
  }
};

listener_pool::listener_pool(std::size_t max_threads)
    : core_(std::make_shared<core>()) {
  core_->max_threads = max_threads < 1 ? 1 : max_threads;
}

listener_pool::~listener_pool() {
  if (!stopped_)
    (void)stop(std::chrono::steady_clock::now());
}

void listener_pool::run(std::function<void()> job,
                        std::chrono::steady_clock::time_point not_before) {
  auto& c = *core_;
  std::lock_guard guard{c.mu};
  if (c.stop)
    return;
  c.jobs.emplace(not_before, std::move(job));
  if (c.idle < c.jobs.size() && c.workers.size() < c.max_threads) {
    auto& w = c.workers.emplace_back();
    w.thread = std::thread{[self = core_, me = &w] {
      eventlog::set_thread_name("perdure-listen");
      core::work(self, me);
    }};
  } else {
    c.cv.notify_one();
  }
}

std::size_t
listener_pool::stop(std::chrono::steady_clock::time_point deadline) {
  stopped_ = true;
  auto& c = *core_;
  decltype(c.jobs) dropped; // destroyed outside the lock
  std::list<worker> done;
  std::size_t left = 0;
  {
    std::unique_lock guard{c.mu};
    c.stop = true;
    dropped.swap(c.jobs);
    c.cv.notify_all();
    auto all_exited = [&] {
      for (auto& w : c.workers)
        if (!w.exited)
          return false;
      return true;
    };
    c.changed.wait_until(guard, deadline, all_exited);
    // Idle workers leave at once; busy ones were given until the deadline.
    c.changed.wait(guard, [&] {
      for (auto& w : c.workers)
        if (!w.exited && !w.busy)
          return false;
      return true;
    });
    for (auto i = c.workers.begin(); i != c.workers.end();) {
      auto next = std::next(i);
      if (i->exited) {
        done.splice(done.end(), c.workers, i);
      } else {
        i->thread.detach();
        ++left;
      }
      i = next;
    }
  }
  for (auto& w : done)
    w.thread.join();
  return left;
}

std::size_t listener_pool::threads() const {
  std::lock_guard guard{core_->mu};
  return core_->workers.size();
}

} // namespace perdure::detail
