// SPDX-License-Identifier: Apache-2.0
#pragma once

// The threads that run actor methods: a pool with managed blocking. It
// keeps `threads` workers running; a worker that blocks in an actor call
// (or any wait that says so with a blocking_scope) stops counting, and a
// worker is added in its place, so callers never starve callees whatever
// the call graph. At most `max_blocked` workers block at once; beyond that
// a blocking call fails `busy` instead of adding threads without bound.

#include "perdure/eventlog/status.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace perdure::detail {

class actor_pool {
 public:
  using clock = std::chrono::steady_clock;

  /// Starts `threads` (at least 1) workers.
  explicit actor_pool(std::size_t threads, std::size_t max_blocked = 1024);
  /// Selects the manual pool: no threads at all; posted tasks run only in
  /// run_queued(), on its caller's thread, in the order they were posted,
  /// and tasks posted with post_after() never run. For deterministic
  /// tests of the runners (test/actors/actor_sequencing.test.cpp).
  struct manual_t {};
  explicit actor_pool(manual_t);
  /// shutdown(now) unless done.
  ~actor_pool();
  actor_pool(const actor_pool&) = delete;
  actor_pool& operator=(const actor_pool&) = delete;

  /// Runs `f` on a worker; false (and `f` dropped) once shut down.
  bool post(std::function<void()> f);
  /// Runs `f` on a worker after `d`; dropped at shutdown.
  void post_after(std::chrono::nanoseconds d, std::function<void()> f);
  /// Manual pool: runs queued tasks, including those they post, until none
  /// is left; returns how many ran. A threaded pool runs nothing here.
  std::size_t run_queued();
  /// Sets the bound on workers blocked at once (at least 1).
  void set_max_blocked(std::size_t n);

  /// Takes no more work and drops what is queued; waits until no task runs
  /// or `deadline`. Returns how many tasks still run: their threads are
  /// abandoned (not waited for; they keep only the pool's shared state and
  /// end once their task returns).
  std::size_t shutdown(clock::time_point deadline);

  /// Workers now (running, blocked or lingering), for tests and metrics.
  std::size_t threads() const;

  struct state;

 private:
  std::shared_ptr<state> st_;
};

/// Marks the calling thread blocked for its lifetime when it is a worker
/// of an actor_pool (nothing otherwise). Converts to false (and blocks
/// nothing) when the pool already has its maximum of blocked workers; the
/// caller then fails its wait with status().
class blocking_scope {
 public:
  blocking_scope();
  ~blocking_scope();
  blocking_scope(const blocking_scope&) = delete;
  blocking_scope& operator=(const blocking_scope&) = delete;
  explicit operator bool() const noexcept {
    return static_cast<bool>(err_);
  }
  const status& error() const noexcept {
    return err_;
  }

 private:
  actor_pool::state* pool_ = nullptr;
  status err_;
};

} // namespace perdure::detail
