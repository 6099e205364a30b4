#include "step_pool.hpp"

namespace perdure::detail {

namespace {

constexpr double slack = 1e-9;

} // namespace

step_pool::step_pool(resources capacity, std::size_t max_threads)
  : capacity_(std::move(capacity)), max_threads_(max_threads) {
}

step_pool::~step_pool() {
  {
    std::unique_lock guard{mu_};
    // Queued jobs are step attempts already logged as started: run them so
    // their results get logged or dropped by their workflow, never lost
    // half-way.
    drained_.wait(guard,
                  [&] { return waiting_.empty() && admitted_.empty(); });
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    t.join();
}

bool step_pool::fits(const demand& d) const {
  if (cpus_used_ + d.cpus > capacity_.cpus.value_or(0) + slack)
    return false;
  if (gpus_used_ + d.gpus > capacity_.gpus.value_or(0) + slack)
    return false;
  for (auto& [name, need] : d.custom) {
    auto cap = capacity_.custom.find(name);
    auto used = custom_used_.find(name);
    double have = cap == capacity_.custom.end() ? 0 : cap->second;
    double in_use = used == custom_used_.end() ? 0 : used->second;
    if (in_use + need > have + slack)
      return false;
  }
  return true;
}

void step_pool::take(const demand& d, double sign) {
  cpus_used_ += sign * d.cpus;
  gpus_used_ += sign * d.gpus;
  for (auto& [name, need] : d.custom)
    custom_used_[name] += sign * need;
}

void step_pool::admit_locked() {
  // First fit in queue order: a small job may pass a big one that waits.
  for (auto i = waiting_.begin(); i != waiting_.end();) {
    if (i->skip && i->skip->load())
      i->need = {0, 0, {}}; // canceled: runs at once, returns at once
    if (fits(i->need)) {
      take(i->need, 1);
      admitted_.push_back(std::move(*i));
      i = waiting_.erase(i);
      if (admitted_.size() > idle_ && threads_.size() < max_threads_)
        threads_.emplace_back([this] { work(); });
      else
        cv_.notify_one();
    } else {
      ++i;
    }
  }
}

void step_pool::submit(demand need, std::function<void()> job,
                       std::shared_ptr<const std::atomic<bool>> skip) {
  std::lock_guard guard{mu_};
  waiting_.push_back({std::move(need), std::move(job), std::move(skip)});
  admit_locked();
}

void step_pool::poke() {
  std::lock_guard guard{mu_};
  admit_locked();
}

void step_pool::work() {
  std::unique_lock guard{mu_};
  for (;;) {
    if (admitted_.empty() && !stop_) {
      ++idle_;
      cv_.wait(guard, [&] { return !admitted_.empty() || stop_; });
      --idle_;
    }
    if (admitted_.empty())
      return;
    auto it = std::move(admitted_.front());
    admitted_.pop_front();
    guard.unlock();
    it.job();
    it.job = nullptr;
    guard.lock();
    take(it.need, -1);
    admit_locked();
    if (waiting_.empty() && admitted_.empty())
      drained_.notify_all(); // the destructor may wait for this
  }
}

} // namespace perdure::detail
