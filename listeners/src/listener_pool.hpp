// SPDX-License-Identifier: Apache-2.0
#pragma once

// The threads that run a custom listener's polls and checkpoint callbacks:
// at most `max_threads`, created on demand, jobs in time then FIFO order. Stopping
// waits for running jobs only until a deadline; a job still running then
// (a poll that ignores listener_token()) is left on its detached thread,
// which shares the pool's state, so it may return later safely.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace perdure::detail {

class listener_pool {
 public:
  /// @pre max_threads >= 1
  explicit listener_pool(std::size_t max_threads);
  /// stop() with a deadline of now, if it was not called.
  ~listener_pool();
  listener_pool(const listener_pool&) = delete;
  listener_pool& operator=(const listener_pool&) = delete;

  /// Queues `job` to run at `not_before` or later (jobs run in that
  /// order, FIFO among equal times); dropped once the pool is stopping.
  void run(std::function<void()> job,
           std::chrono::steady_clock::time_point not_before = {});

  /// Drops queued jobs, waits until `deadline` for running ones, joins
  /// every thread that is done and detaches the others. Returns how many
  /// jobs were left running.
  std::size_t stop(std::chrono::steady_clock::time_point deadline);

  /// Threads started so far (never more than max_threads).
  std::size_t threads() const;

 private:
  struct core;
  std::shared_ptr<core> core_;
  bool stopped_ = false;
};

} // namespace perdure::detail
