// SPDX-License-Identifier: Apache-2.0
#include "request_queue.hpp"

#include "perdure/eventlog/thread_name.hpp"

#include <algorithm>
#include <utility>

namespace perdure::cluster {

request_queue::request_queue(std::size_t threads)
    : max_threads_(std::max<std::size_t>(threads, 1)) {}

request_queue::~request_queue() {
  close();
  join();
}

void request_queue::submit(std::string key, work w, done d) {
  {
    std::lock_guard guard{mutex_};
    if (!closed_) {
      // A key is in ready_ while it has queued requests and none of its
      // requests runs; a running key is put back when its request ends.
      auto [it, fresh] = queued_.try_emplace(std::move(key));
      it->second.push_back(item{std::move(w), std::move(d)});
      if (!fresh)
        return; // it runs after the ones before it
      ready_.push_back(it->first);
      if (ready_.size() > idle_ && threads_.size() < max_threads_)
        threads_.emplace_back([this] { serve(); });
      else
        wake_.notify_one();
      return;
    }
  }
  d(unexpected{errc::closed, "the host is stopping: the request was not "
                             "sent"});
}

void request_queue::serve() {
  eventlog::set_thread_name("perdure-async");
  std::unique_lock guard{mutex_};
  for (;;) {
    ++idle_;
    wake_.wait(guard, [&] { return closed_ || !ready_.empty(); });
    --idle_;
    if (ready_.empty())
      return; // closed, nothing left
    auto key = std::move(ready_.front());
    ready_.pop_front();
    auto it = queued_.find(key);
    auto next = std::move(it->second.front());
    it->second.pop_front();
    ++running_;
    guard.unlock();
    auto r = next.w();
    guard.lock();
    --running_; // pending() no longer counts it once `done` has it
    guard.unlock();
    next.d(std::move(r)); // before the key's next request starts
    next = {};
    guard.lock();
    it = queued_.find(key); // gone when close() came meanwhile
    if (it != queued_.end() && it->second.empty())
      queued_.erase(it);
    else if (it != queued_.end())
      ready_.push_back(std::move(key));
    wake_.notify_all(); // a waiting join() or another thread
  }
}

void request_queue::close() {
  std::vector<done> dropped;
  {
    std::lock_guard guard{mutex_};
    closed_ = true;
    for (auto& [key, items] : queued_)
      for (auto& i : items)
        dropped.push_back(std::move(i.d));
    queued_.clear();
    ready_.clear();
  }
  wake_.notify_all();
  for (auto& d : dropped)
    d(unexpected{errc::closed, "the host stopped before the request was "
                               "sent"});
}

void request_queue::join() {
  std::lock_guard once{join_mutex_};
  std::vector<std::thread> threads;
  {
    std::lock_guard guard{mutex_};
    threads.swap(threads_);
  }
  for (auto& t : threads)
    t.join();
}

std::size_t request_queue::pending() const {
  std::lock_guard guard{mutex_};
  std::size_t n = running_;
  for (const auto& [key, items] : queued_)
    n += items.size();
  return n;
}

} // namespace perdure::cluster
