// SPDX-License-Identifier: Apache-2.0
// The actor pool: workers, managed blocking (a blocked worker is replaced,
// up to a bound), lingering surplus workers, and one timer thread.

#include "actor_pool.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace perdure::detail {

struct actor_pool::state : std::enable_shared_from_this<state> {
  std::mutex mu;
  std::condition_variable work;   ///< tasks queued or stopped
  std::condition_variable linger; ///< a lingering worker is recalled
  std::condition_variable quiet;  ///< a task ended or a worker left
  std::deque<std::function<void()>> tasks;
  std::size_t target = 1;
  std::size_t max_blocked = 1024;
  std::size_t threads = 0;   ///< workers alive
  std::size_t blocked = 0;   ///< in a blocking_scope
  std::size_t lingering = 0; ///< surplus, waiting to leave
  std::size_t recalled = 0;  ///< lingering workers asked to work again
  std::size_t waiting = 0;   ///< idle on `work`
  std::size_t running = 0;   ///< tasks running
  bool stopped = false;
  bool manual = false; ///< no threads: run_queued() runs the tasks

  std::multimap<clock::time_point, std::function<void()>> timers;
  std::condition_variable timer_cv;
  std::thread timer;

  /// Workers that take tasks: neither blocked nor lingering.
  std::size_t active() const {
    return threads - blocked - lingering;
  }

  void spawn() {
    ++threads;
    std::thread{[self = shared_from_this()] {
      eventlog::set_thread_name("perdure-actor");
      self->worker();
    }}.detach();
  }

  void worker();
  void timer_loop();
};

namespace {

thread_local actor_pool::state* current_pool = nullptr;

/// How long a surplus worker waits to be needed again before it leaves.
constexpr auto linger_time = std::chrono::seconds{1};

} // namespace

void actor_pool::state::worker() {
  current_pool = this;
  std::unique_lock g{mu};
  for (;;) {
    if (active() > target && !stopped) {
      // Surplus since blocked workers came back: linger, then leave. A
      // post's notify_one may have woken this worker for a task: another
      // idle one takes it (else it would wait beside a queued task).
      if (!tasks.empty() && waiting > 0)
        work.notify_one();
      ++lingering;
      bool back = linger.wait_for(g, linger_time,
                                  [&] { return recalled > 0 || stopped; });
      if (back && recalled > 0 && !stopped) {
        --recalled; // enter() already took it out of `lingering`
        continue;
      }
      if (!back || stopped)
        --lingering;
      break;
    }
    if (!tasks.empty()) {
      auto f = std::move(tasks.front());
      tasks.pop_front();
      ++running;
      g.unlock();
      f();
      f = nullptr; // its captures die outside the lock
      g.lock();
      --running;
      quiet.notify_all();
      continue;
    }
    if (stopped)
      break;
    ++waiting;
    work.wait(g);
    --waiting;
  }
  --threads;
  quiet.notify_all();
}

void actor_pool::state::timer_loop() {
  std::unique_lock g{mu};
  while (!stopped) {
    if (timers.empty()) {
      timer_cv.wait(g);
      continue;
    }
    auto when = timers.begin()->first;
    if (clock::now() < when) {
      timer_cv.wait_until(g, when);
      continue;
    }
    auto f = std::move(timers.begin()->second);
    timers.erase(timers.begin());
    tasks.push_back(std::move(f));
    if (waiting > 0)
      work.notify_one();
  }
}

actor_pool::actor_pool(std::size_t threads, std::size_t max_blocked)
  : st_(std::make_shared<state>()) {
  std::lock_guard g{st_->mu};
  st_->target = std::max<std::size_t>(1, threads);
  st_->max_blocked = std::max<std::size_t>(1, max_blocked);
  for (std::size_t i = 0; i < st_->target; ++i)
    st_->spawn();
  st_->timer = std::thread{[s = st_.get()] {
    eventlog::set_thread_name("perdure-atimer");
    s->timer_loop();
  }};
}

actor_pool::actor_pool(manual_t) : st_(std::make_shared<state>()) {
  st_->manual = true;
}

std::size_t actor_pool::run_queued() {
  std::size_t ran = 0;
  std::unique_lock g{st_->mu};
  while (st_->manual && !st_->tasks.empty()) {
    auto f = std::move(st_->tasks.front());
    st_->tasks.pop_front();
    g.unlock();
    f();
    f = nullptr;
    ++ran;
    g.lock();
  }
  return ran;
}

actor_pool::~actor_pool() {
  shutdown(clock::now());
}

bool actor_pool::post(std::function<void()> f) {
  std::lock_guard g{st_->mu};
  if (st_->stopped)
    return false;
  st_->tasks.push_back(std::move(f));
  if (st_->waiting > 0)
    st_->work.notify_one();
  return true;
}

void actor_pool::post_after(std::chrono::nanoseconds d,
                            std::function<void()> f) {
  std::lock_guard g{st_->mu};
  if (st_->stopped)
    return;
  st_->timers.emplace(clock::now() + d, std::move(f));
  st_->timer_cv.notify_one();
}

void actor_pool::set_max_blocked(std::size_t n) {
  std::lock_guard g{st_->mu};
  st_->max_blocked = std::max<std::size_t>(1, n);
}

std::size_t actor_pool::threads() const {
  std::lock_guard g{st_->mu};
  return st_->threads;
}

std::size_t actor_pool::shutdown(clock::time_point deadline) {
  std::deque<std::function<void()>> dropped;
  std::multimap<clock::time_point, std::function<void()>> timers;
  std::size_t left = 0;
  {
    std::unique_lock g{st_->mu};
    if (!st_->stopped) {
      st_->stopped = true;
      dropped.swap(st_->tasks);
      timers.swap(st_->timers);
      st_->work.notify_all();
      st_->linger.notify_all();
      st_->timer_cv.notify_all();
    }
    st_->quiet.wait_until(g, deadline, [&] { return st_->running == 0; });
    left = st_->running;
  }
  if (st_->timer.joinable())
    st_->timer.join(); // runs no user code: never stuck
  return left;
}

blocking_scope::blocking_scope() {
  auto* p = current_pool;
  if (!p)
    return;
  std::lock_guard g{p->mu};
  if (p->blocked >= p->max_blocked) {
    err_ = {errc::busy,
            fmt::format("{} actor calls are blocked in calls already (the "
                        "bound is actor_options::max_blocked_calls); this "
                        "one fails instead of waiting",
                        p->blocked)};
    return;
  }
  pool_ = p;
  ++p->blocked;
  if (p->stopped || p->active() >= p->target)
    return;
  if (p->lingering > 0) {
    --p->lingering;
    ++p->recalled;
    p->linger.notify_one();
  } else {
    p->spawn();
  }
}

blocking_scope::~blocking_scope() {
  if (!pool_)
    return;
  std::lock_guard g{pool_->mu};
  --pool_->blocked;
}

} // namespace perdure::detail
