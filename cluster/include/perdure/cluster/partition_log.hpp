// SPDX-License-Identifier: Apache-2.0
#pragma once

// One partition of the cluster's replicated log: an append-only sequence of
// opaque records at increasing offsets, appended to and read back by every
// node. In production it is partition p of the Kafka topic
// `perdure.<app>.log`; in tests also an in-memory fake that can reorder,
// duplicate and delay appends. The claim and fencing rule (who may write)
// lives above this interface: a partition_log only stores and returns.

#include "perdure/eventlog/status.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace perdure::cluster {

/// A record's position in its partition. Offsets increase but need not be
/// contiguous (Kafka may leave gaps): readers use log_record::offset.
using log_offset = std::int64_t;

/// One record read back.
struct log_record {
  log_offset offset = 0;
  std::string bytes;
};

/// One partition of a replicated log. Thread-safe: append, read and
/// end_offset may be called from any threads at once.
class partition_log {
 public:
  /// Called once per append, on a thread of the log (never inside
  /// append()): the offset the record got once the log holds it durably
  /// (Kafka: acks=all), or the error (timeout, closed; invalid_argument for
  /// a record over the log's size limit). It must not block for long.
  using append_done = std::function<void(result<log_offset>)>;

  virtual ~partition_log() = default;

  /// Appends `bytes` as one record; the record is readable by every reader
  /// once `done` reported its offset. Appends of one caller land in the
  /// order of the calls when they succeed.
  virtual void append(std::string bytes, append_done done) = 0;

  /// Up to `max` records at offsets >= `from`, in offset order, waiting up
  /// to `wait` for the first; empty when none came. Errors: closed, io;
  /// not_found when `from` is below the first offset still kept.
  virtual result<std::vector<log_record>>
  read(log_offset from, std::size_t max, std::chrono::milliseconds wait) = 0;

  /// The offset after the last record now readable (Kafka's high
  /// watermark): a reader that read everything below it is caught up.
  virtual result<log_offset> end_offset(std::chrono::milliseconds wait) = 0;

  /// The end offset as this process last learnt it without asking (Kafka:
  /// the high watermark of the partition's last fetch answer); none when
  /// not known (the default, and a Kafka partition not being read). Cheap:
  /// for gauges such as a reader's lag, never for a decision.
  virtual std::optional<log_offset> known_end() const {
    return std::nullopt;
  }

  /// Sets what the log calls when records may have become readable (on a
  /// thread of the log; `fn` must be quick and must not call the log), so
  /// that a reader polling with a zero wait can sleep elsewhere until then
  /// (the node's poll thread does). Calls may be spurious, and a log may
  /// never call it (the default): such readers poll. An empty `fn`
  /// removes it; once this returns, the previous one is not running and
  /// is not called again.
  virtual void on_readable(std::function<void()> fn) {
    static_cast<void>(fn);
  }
};

} // namespace perdure::cluster
