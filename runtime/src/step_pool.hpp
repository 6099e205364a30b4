#pragma once

// The pool that runs step bodies, off the CAF scheduler. A job declares the
// resources it needs; it starts only when they fit in the pool's capacity
// beside the jobs already running. Threads are created on demand and kept.

#include "perdure/runtime/options.hpp"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
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
  /// Runs what is queued, then joins the threads.
  ~step_pool();
  step_pool(const step_pool&) = delete;
  step_pool& operator=(const step_pool&) = delete;

  /// Queues `job`; it runs once `need` fits. @pre `need` fits the capacity
  /// on its own (checked when the workflow is built).
  /// A job whose `skip` flag is set by then starts at once without taking
  /// resources (it is expected to return at once).
  void submit(demand need, std::function<void()> job,
              std::shared_ptr<const std::atomic<bool>> skip = nullptr);

  /// Re-checks waiting jobs, e.g. after a skip flag was set.
  void poke();

  const resources& capacity() const noexcept {
    return capacity_;
  }

 private:
  struct item {
    demand need;
    std::function<void()> job;
    std::shared_ptr<const std::atomic<bool>> skip;
  };
  bool fits(const demand& d) const;
  void take(const demand& d, double sign);
  void admit_locked();
  void work();

  resources capacity_;
  std::size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;      ///< workers wait for admitted jobs
  std::condition_variable drained_; ///< the destructor waits for the queue
  std::deque<item> waiting_;
  std::deque<item> admitted_;
  double cpus_used_ = 0;
  double gpus_used_ = 0;
  std::map<std::string, double> custom_used_;
  std::size_t idle_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

} // namespace perdure::detail
