// SPDX-License-Identifier: Apache-2.0
#include "commit_queue.hpp"

#include <algorithm>

namespace perdure::eventlog::detail {

commit_queue::pushed commit_queue::push(pending& p, bool may_lead) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mu_};
    if (stopping_)
      return pushed::refused;
    queue_.push_back(std::move(p));
    if (may_lead && !held_)
      return pushed::lead;
    // Held back, the writer waits for a large group or hold_back(false):
    // no wake-up per batch.
    wake = !held_ || queue_.size() >= eager_group_;
  }
  if (wake)
    cv_.notify_one();
  return pushed::queued;
}

bool commit_queue::ready() const {
  return stopping_ || woken_
         || (!queue_.empty() && (!held_ || queue_.size() >= eager_group_));
}

commit_queue::taken
commit_queue::wait(std::optional<clock::time_point> until) {
  std::unique_lock<std::mutex> guard{mu_};
  if (until)
    cv_.wait_until(guard, *until, [this] { return ready(); });
  else
    cv_.wait(guard, [this] { return ready(); });
  taken t{stopping_, woken_};
  woken_ = false;
  return t;
}

void commit_queue::take_now(std::vector<pending>& out,
                            std::size_t max_group) {
  out.clear();
  std::lock_guard<std::mutex> guard{mu_};
  if (held_ && !stopping_ && queue_.size() < eager_group_)
    return;
  auto n = std::min(queue_.size(), max_group);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

bool commit_queue::empty() const {
  std::lock_guard<std::mutex> guard{mu_};
  return queue_.empty();
}

void commit_queue::hold_back(bool on) {
  {
    std::lock_guard<std::mutex> guard{mu_};
    if (held_ == on)
      return;
    held_ = on;
    // Released with nothing queued: no one to wake.
    if (on || queue_.empty())
      return;
  }
  cv_.notify_one();
}

void commit_queue::wake() {
  {
    std::lock_guard<std::mutex> guard{mu_};
    woken_ = true;
  }
  cv_.notify_one();
}

void commit_queue::notify() {
  cv_.notify_one();
}

bool commit_queue::stop() {
  {
    std::lock_guard<std::mutex> guard{mu_};
    if (stopping_)
      return false;
    stopping_ = true;
  }
  cv_.notify_all();
  return true;
}

} // namespace perdure::eventlog::detail
