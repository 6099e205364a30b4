// SPDX-License-Identifier: Apache-2.0
#include "step_pool.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

namespace perdure::detail {

namespace {

constexpr double slack = 1e-9;

struct item {
  demand need;
  std::function<void()> job;
  std::shared_ptr<const std::atomic<bool>> skip;
  std::string label;
};

struct worker {
  std::thread thread;
  const std::string* running = nullptr; ///< the job's label while busy
  bool exited = false;
};

} // namespace

// Shared by the pool and its threads: a detached thread whose job returns
// after the pool is gone still finds it.
struct step_pool::core {
  resources capacity;
  std::size_t max_threads = 0;
  std::mutex mu;
  std::condition_variable cv;      ///< workers wait for admitted jobs
  std::condition_variable changed; ///< shutdown waits for workers
  std::deque<item> waiting;
  std::deque<item> admitted;
  double cpus_used = 0;
  double gpus_used = 0;
  std::map<std::string, double> custom_used;
  std::size_t idle = 0;
  bool stop = false;
  std::list<worker> workers;

  bool fits(const demand& d) const {
    if (cpus_used + d.cpus > capacity.cpus.value_or(0) + slack)
      return false;
    if (gpus_used + d.gpus > capacity.gpus.value_or(0) + slack)
      return false;
    for (auto& [name, need] : d.custom) {
      auto cap = capacity.custom.find(name);
      auto used = custom_used.find(name);
      double have = cap == capacity.custom.end() ? 0 : cap->second;
      double in_use = used == custom_used.end() ? 0 : used->second;
      if (in_use + need > have + slack)
        return false;
    }
    return true;
  }

  void take(const demand& d, double sign) {
    cpus_used += sign * d.cpus;
    gpus_used += sign * d.gpus;
    for (auto& [name, need] : d.custom)
      custom_used[name] += sign * need;
  }

  static void work(const std::shared_ptr<core>& self, worker* me);

  /// Admits what fits; returns how many idle workers to wake for it, which
  /// the caller does after unlocking `mu` (woken under the lock, a worker
  /// would only block on it again).
  int admit_locked(const std::shared_ptr<core>& self) {
    int wake = 0;
    // First fit in queue order: a small job may pass a big one that waits.
    for (auto i = waiting.begin(); i != waiting.end();) {
      if (i->skip && i->skip->load())
        i->need = {0, 0, {}}; // canceled: runs at once, returns at once
      if (fits(i->need)) {
        take(i->need, 1);
        admitted.push_back(std::move(*i));
        i = waiting.erase(i);
        if (admitted.size() > idle && workers.size() < max_threads) {
          auto& w = workers.emplace_back();
          w.thread = std::thread{[self, me = &w] {
            eventlog::set_thread_name("perdure-step");
            work(self, me);
          }};
        } else {
          ++wake;
        }
      } else {
        ++i;
      }
    }
    return wake;
  }

  void wake(int n) {
    for (; n > 0; --n)
      cv.notify_one();
  }
};

void step_pool::core::work(const std::shared_ptr<core>& self, worker* me) {
  auto& c = *self;
  std::unique_lock guard{c.mu};
  for (;;) {
    if (c.admitted.empty() && !c.stop) {
      ++c.idle;
      c.cv.wait(guard, [&] { return !c.admitted.empty() || c.stop; });
      --c.idle;
    }
    if (c.admitted.empty() || c.stop)
      break;
    auto it = std::move(c.admitted.front());
    c.admitted.pop_front();
    me->running = &it.label;
    guard.unlock();
    it.job();
    it.job = nullptr;
    guard.lock();
    me->running = nullptr;
    c.take(it.need, -1);
    if (!c.stop)
      // This thread takes one of them itself.
      c.wake(c.admit_locked(self) - 1);
  }
  me->exited = true;
  c.changed.notify_all();
}

step_pool::step_pool(resources capacity, std::size_t max_threads)
  : capacity_(capacity), core_(std::make_shared<core>()) {
  core_->capacity = std::move(capacity);
  core_->max_threads = max_threads;
}

step_pool::~step_pool() {
  if (!shut_)
    (void) shutdown(std::chrono::steady_clock::now());
}

void step_pool::submit(demand need, std::function<void()> job,
                       std::shared_ptr<const std::atomic<bool>> skip,
                       std::string label) {
  int wake = 0;
  {
    std::lock_guard guard{core_->mu};
    if (core_->stop)
      return;
    core_->waiting.push_back(
      {std::move(need), std::move(job), std::move(skip), std::move(label)});
    wake = core_->admit_locked(core_);
  }
  core_->wake(wake);
}

void step_pool::poke() {
  int wake = 0;
  {
    std::lock_guard guard{core_->mu};
    if (!core_->stop)
      wake = core_->admit_locked(core_);
  }
  core_->wake(wake);
}

std::vector<std::string> step_pool::shutdown(
  std::chrono::steady_clock::time_point deadline) {
  shut_ = true;
  auto& c = *core_;
  std::deque<item> dropped; // destroyed outside the lock
  std::vector<std::string> left;
  std::list<worker> joinable;
  {
    std::unique_lock guard{c.mu};
    c.stop = true;
    dropped.swap(c.waiting);
    for (auto& i : c.admitted)
      dropped.push_back(std::move(i));
    c.admitted.clear();
    c.cv.notify_all();
    auto all_exited = [&] {
      for (auto& w : c.workers)
        if (!w.exited)
          return false;
      return true;
    };
    c.changed.wait_until(guard, deadline, all_exited);
    // Idle workers leave at once; only busy ones are waited for until the
    // deadline.
    c.changed.wait(guard, [&] {
      for (auto& w : c.workers)
        if (!w.exited && !w.running)
          return false;
      return true;
    });
    for (auto i = c.workers.begin(); i != c.workers.end();) {
      if (i->exited) {
        auto next = std::next(i);
        joinable.splice(joinable.end(), c.workers, i);
        i = next;
      } else {
        left.push_back(*i->running);
        i->thread.detach();
        ++i;
      }
    }
  }
  for (auto& w : joinable)
    w.thread.join();
  return left;
}

} // namespace perdure::detail
