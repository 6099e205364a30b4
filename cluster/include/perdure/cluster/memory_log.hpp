// SPDX-License-Identifier: Apache-2.0
#pragma once

// An in-memory partition_log for tests and the simulation. Appends are
// queued; step() lands (or fails) one of them and reports it, so a test
// decides the interleaving one step at a time. Faults are drawn from a
// seeded generator: the same seed, faults and calls give the same log.
// Reorder and delay also break the order of one caller's appends that
// partition_log promises (Kafka's idempotent producer keeps it): the
// fencing rule must stay safe without that promise.

#include "perdure/cluster/partition_log.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace perdure::cluster {

/// Probabilities (0 .. 1) of the faults memory_log injects, per step.
struct memory_log_faults {
  /// The step lands a random queued append instead of the oldest.
  double reorder = 0;
  /// A landed append lands again later (the copy is acked to nobody).
  double duplicate = 0;
  /// The chosen append is held back to the end of the queue, so it lands
  /// after appends made later (a zombie's record after a new claim).
  double delay = 0;
  /// A landed append's ack reports timeout instead of its offset.
  double lose_ack = 0;
  /// The append does not land and its ack reports io.
  double fail = 0;
  /// The record's offset skips one (Kafka's offsets may have gaps).
  double gap = 0;
};

/// A partition_log held in memory. Thread-safe. Acks run inside step()
/// (on the stepping thread), never inside append().
class memory_log final : public partition_log {
 public:
  /// A log whose fault draws come from `seed`.
  explicit memory_log(std::uint64_t seed, memory_log_faults faults = {});

  /// Queues `bytes`; it lands (or fails) in a later step().
  void append(std::string bytes, append_done done) override;

  /// The landed records at offsets >= `from`, waiting up to `wait` for one
  /// (another thread's step() may land it). Errors: closed after close().
  result<std::vector<log_record>> read(log_offset from, std::size_t max,
                                       std::chrono::milliseconds wait) override;

  /// The offset after the last landed record. Errors: closed.
  result<log_offset> end_offset(std::chrono::milliseconds wait) override;
  /// The offset after the last landed record; none after close().
  std::optional<log_offset> known_end() const override;

  /// Lands or fails one queued append, drawing the faults, and calls its
  /// ack. Returns false when nothing was queued.
  bool step();

  /// Steps until nothing is queued (a delayed or duplicated append lands
  /// too). Returns the number of steps.
  std::size_t settle();

  /// The number of queued appends (copies included).
  std::size_t queued() const;

  /// Replaces the fault probabilities (all zero: a perfect log).
  void faults(const memory_log_faults& f);

  /// Every landed record, in offset order.
  std::vector<log_record> records() const;

  /// Fails later reads and end_offset with closed; queued appends stay.
  void close();

 private:
  struct pending {
    std::string bytes;
    append_done done; // empty for a duplicate's copy
    bool delayed = false;
  };

  std::uint64_t draw();
  bool chance(double p);

  mutable std::mutex mutex_;
  std::condition_variable landed_;
  std::uint64_t rng_;
  memory_log_faults faults_;
  std::deque<pending> queue_;
  std::vector<log_record> records_;
  log_offset end_ = 0;
  bool closed_ = false;
};

} // namespace perdure::cluster
