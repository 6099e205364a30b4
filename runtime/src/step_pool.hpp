// SPDX-License-Identifier: Apache-2.0
#pragma once

// The pool that runs step bodies, off the CAF scheduler. A job declares the
// resources it needs; it starts only when they fit in the pool's capacity
// beside the jobs already running. Threads are created on demand and kept.
// Stopping never waits past its deadline: a job still running then is left
// on its (detached) thread, whose state the pool shares, so the job may
// return at any time later without touching a destroyed pool.

#include "perdure/runtime/options.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace perdure::detail {

/// What one job needs while it runs.
struct demand {
  double cpus = 1;
  double gpus = 0;
  std::map<std::string, double> custom;
};

class step_pool {
 public:
  /// @pre every member of `capacity` is set (cpus, gpus)
  explicit step_pool(resources capacity, std::size_t max_threads = 256);
  /// shutdown() with a deadline of now, if it was not called.
  ~step_pool();
  step_pool(const step_pool&) = delete;
  step_pool& operator=(const step_pool&) = delete;

  /// Queues `job`; it runs once `need` fits. @pre `need` fits the capacity
  /// on its own (checked when the workflow is built).
  /// A job whose `skip` flag is set by then starts at once without taking
  /// resources (it is expected to return at once). `label` names the job
  /// in shutdown()'s answer. A job submitted after shutdown() is dropped.
  void submit(demand need, std::function<void()> job,
              std::shared_ptr<const std::atomic<bool>> skip = nullptr,
              std::string label = {});

  /// Re-checks waiting jobs, e.g. after a skip flag was set.
  void poke();

  /// Stops the pool: jobs not started yet are dropped (their owners have
  /// ended: engine shutdown); jobs still running at `deadline` are left
  /// running on detached threads. Returns their labels. Joins every other
  /// thread. Call once.
  std::vector<std::string> shutdown(
    std::chrono::steady_clock::time_point deadline);

  const resources& capacity() const noexcept {
    return capacity_;
  }

 private:
  struct core;
  resources capacity_;
  std::shared_ptr<core> core_;
  bool shut_ = false;
};

} // namespace perdure::detail
