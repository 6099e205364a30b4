// SPDX-License-Identifier: Apache-2.0
#pragma once

// The threads of engine_host::request_async (host_actor's call_async):
// requests run off the caller's thread, at most `threads` at once, and the
// requests of one key (the id they route by) one at a time in the order
// they were submitted, so that two asynchronous calls of one actor from
// this host keep their order, as an engine's own actor_ref keeps it.

#include "perdure/eventlog/status.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace perdure::cluster {

class request_queue {
 public:
  using work = std::function<result<std::string>()>;
  /// Gets a request's result, on the queue's thread that ran it (or on
  /// close()'s caller for a request that never ran). Must not call close().
  using done = std::function<void(result<std::string>)>;

  /// Threads start as requests need them, up to `threads` (at least 1).
  explicit request_queue(std::size_t threads);
  /// close(), then join().
  ~request_queue();
  request_queue(const request_queue&) = delete;
  request_queue& operator=(const request_queue&) = delete;

  /// Queues `w` behind the requests of `key` not yet finished; `d` gets
  /// its result. After close(), `d` gets `closed` at once, on this thread.
  void submit(std::string key, work w, done d);

  /// Takes no more requests; those that have not started end with
  /// `closed` (their `done` runs here). Running ones go on.
  void close();
  /// Waits for the running requests and the threads (after close()).
  void join();

  /// Requests queued or running; one whose `done` was called is never
  /// counted.
  std::size_t pending() const;

 private:
  struct item {
    work w;
    done d;
  };
  void serve();

  const std::size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::deque<item>> queued_; // by key, in order
  std::deque<std::string> ready_; // keys with a queued request, none running
  std::size_t running_ = 0;
  std::size_t idle_ = 0;
  bool closed_ = false;
  std::vector<std::thread> threads_;
  std::mutex join_mutex_;
};

} // namespace perdure::cluster
