// SPDX-License-Identifier: Apache-2.0
#pragma once

// Submission and grouping behind one mutex (leveldb's writers_ deque,
// RocksDB's WriteThread). Callers push batches with their completions; a
// committer takes up to a group's worth at a time: the writer thread, or,
// where the durability allows it, the pushing thread itself when nothing
// is held back (leveldb's leader: no hand-off to the writer and back).
// While a sync is in flight the durability may ask to hold small groups
// back: committing them before the sync ends would not make them durable
// sooner, only the groups smaller.

#include "perdure/eventlog/event_log.hpp"

#include <chrono>
#include <cstdint>
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

  /// What push() did.
  enum class pushed : std::uint8_t {
    refused, ///< stopped: `p` untouched
    queued,  ///< the writer takes it (woken when it should)
    lead     ///< queued, writer not woken: the caller commits or wakes it
  };

  /// Queues `p`. With `may_lead`, when nothing is held back, it does not
  /// wake the writer and returns `lead`: the caller takes the group itself
  /// (take_now) or, when it cannot, calls notify().
  pushed push(pending& p, bool may_lead = false);

  /// What wait() saw.
  struct taken {
    bool stopping = false; ///< stop() was called (drain what is left)
    bool woken = false;    ///< wake() was called since the last wait
  };

  /// Writer thread: waits until a group may be taken, wake() or stop() is
  /// called, or `until` passes. Takes nothing: see take_now.
  taken wait(std::optional<clock::time_point> until);

  /// Moves up to `max_group` batches into `out` (cleared first) without
  /// waiting; none while small groups are held back (unless stopping).
  /// The caller holds the log's commit lock, so groups commit in order.
  void take_now(std::vector<pending>& out, std::size_t max_group);

  /// True when nothing is queued (a hint: callers may push meanwhile).
  bool empty() const;

  /// A sync is in flight (true) or over (false): see the header comment.
  void hold_back(bool on);

  /// Makes the writer's wait() return at once (work for it elsewhere).
  void wake();

  /// Wakes the writer for what is queued (a leader that could not lead).
  void notify();

  /// Refuses new batches; wait() returns at once with `stopping` and
  /// take_now() takes what is left. Returns false when it was stopped already.
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
