// SPDX-License-Identifier: Apache-2.0
#pragma once

// Submission and grouping behind one mutex (leveldb's writers_ deque,
// RocksDB's WriteThread, without a leader election: one writer thread
// takes every group). Callers push batches with their completions; the
// writer takes up to a group's worth at a time. While a sync is in flight
// the durability may ask to hold small groups back: committing them before
// the sync ends would not make them durable sooner, only the groups
// smaller.

#include "perdure/eventlog/event_log.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace perdure::eventlog::detail {

/// One submitted batch and who waits for it.
struct pending {
  write_batch batch;
  event_log::completion done;
};

class commit_queue {
 public:
  using clock = std::chrono::steady_clock;

  /// `eager_group`: while held back, a group this large is taken anyway.
  explicit commit_queue(std::size_t eager_group = 32)
    : eager_group_(eager_group) {
  }

  /// Queues `p` for the writer. False (and `p` untouched) once stopped.
  bool push(pending& p);

  /// What take() returned besides the batches.
  struct taken {
    bool stopping = false; ///< stop() was called (drain what is left)
    bool woken = false;    ///< wake() was called since the last take
  };

  /// Writer thread: waits until a group may be taken, wake() or stop() is
  /// called, or `until` passes; moves up to `max_group` batches into `out`
  /// (cleared first; maybe none).
  taken take(std::vector<pending>& out, std::size_t max_group,
             std::optional<clock::time_point> until);

  /// True when nothing is queued (a hint: callers may push meanwhile).
  bool empty() const;

  /// A sync is in flight (true) or over (false): see the header comment.
  void hold_back(bool on);

  /// Makes the writer's take() return at once (work for it elsewhere).
  void wake();

  /// Refuses new batches; take() returns what is left, then empty with
  /// `stopping`. Returns false when it was stopped already.
  bool stop();

 private:
  bool ready() const;

  const std::size_t eager_group_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<pending> queue_; // guarded by mu_
  bool held_ = false;         // guarded by mu_
  bool woken_ = false;        // guarded by mu_
  bool stopping_ = false;     // guarded by mu_
};

} // namespace perdure::eventlog::detail
