// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/memory_log.hpp"

#include <algorithm>

namespace perdure::cluster {

memory_log::memory_log(std::uint64_t seed, memory_log_faults faults)
    : rng_(seed)
    , faults_(faults) {}

// splitmix64: small, and the same sequence with every standard library
// (std distributions are not), so a seed reproduces anywhere.
std::uint64_t memory_log::draw() {
  std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool memory_log::chance(double p) {
  if (p <= 0)
    return false;
  return static_cast<double>(draw() >> 11) * 0x1.0p-53 < p;
}

void memory_log::append(std::string bytes, append_done done) {
  std::lock_guard guard{mutex_};
  queue_.push_back({std::move(bytes), std::move(done)});
}

result<std::vector<log_record>>
memory_log::read(log_offset from, std::size_t max,
                 std::chrono::milliseconds wait) {
  std::unique_lock lock{mutex_};
  auto have = [&] { return closed_ || end_ > from; };
  if (!have() && wait.count() > 0)
    landed_.wait_for(lock, wait, have);
  if (closed_)
    return unexpected{errc::closed, "memory_log is closed"};
  auto it = std::lower_bound(
      records_.begin(), records_.end(), from,
      [](const log_record& r, log_offset o) { return r.offset < o; });
  std::vector<log_record> out;
  for (; it != records_.end() && out.size() < max; ++it)
    out.push_back(*it);
  return out;
}

result<log_offset> memory_log::end_offset(std::chrono::milliseconds) {
  std::lock_guard guard{mutex_};
  if (closed_)
    return unexpected{errc::closed, "memory_log is closed"};
  return end_;
}

std::optional<log_offset> memory_log::known_end() const {
  std::lock_guard guard{mutex_};
  if (closed_)
    return std::nullopt;
  return end_;
}

bool memory_log::step() {
  append_done done;
  result<log_offset> ack = log_offset{0};
  {
    std::lock_guard guard{mutex_};
    if (queue_.empty())
      return false;
    std::size_t i = 0;
    if (queue_.size() > 1 && chance(faults_.reorder))
      i = draw() % queue_.size();
    auto p = std::move(queue_[i]);
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
    if (!p.delayed && queue_.size() > 0 && chance(faults_.delay)) {
      p.delayed = true;
      queue_.push_back(std::move(p));
      return true;
    }
    done = std::move(p.done);
    if (chance(faults_.fail)) {
      ack = unexpected{errc::io, "append failed (simulated); not landed"};
    } else {
      if (chance(faults_.gap))
        ++end_;
      log_offset at = end_++;
      if (chance(faults_.duplicate))
        queue_.push_back({p.bytes, {}, p.delayed});
      records_.push_back({at, std::move(p.bytes)});
      landed_.notify_all();
      if (chance(faults_.lose_ack))
        ack = unexpected{errc::timeout,
                         "append ack lost (simulated); the record may "
                         "have landed"};
      else
        ack = at;
    }
  }
  if (done)
    done(std::move(ack));
  return true;
}

std::size_t memory_log::settle() {
  std::size_t n = 0;
  while (step())
    ++n;
  return n;
}

std::size_t memory_log::queued() const {
  std::lock_guard guard{mutex_};
  return queue_.size();
}

void memory_log::faults(const memory_log_faults& f) {
  std::lock_guard guard{mutex_};
  faults_ = f;
}

std::vector<log_record> memory_log::records() const {
  std::lock_guard guard{mutex_};
  return records_;
}

void memory_log::close() {
  std::lock_guard guard{mutex_};
  closed_ = true;
  landed_.notify_all();
}

} // namespace perdure::cluster
