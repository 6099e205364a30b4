// SPDX-License-Identifier: Apache-2.0
#pragma once

// What kafka_log.cpp (open, append, close) and kafka_log_read.cpp (read,
// end_offset, describe) share.

#include "perdure/cluster/kafka_log.hpp"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

namespace perdure::cluster {

class kafka_partition;

struct kafka_log::impl {
  kafka_log_options options;
  std::string topic;
  std::int32_t partitions = 0;
  /// message.max.bytes of the producer: larger records fail at once.
  std::size_t max_record_bytes = 0;
  rd_kafka_t* producer = nullptr;
  rd_kafka_topic_t* producer_topic = nullptr;
  rd_kafka_t* reader = nullptr; ///< legacy consumer, no group
  rd_kafka_topic_t* reader_topic = nullptr;
  std::vector<std::unique_ptr<kafka_partition>> parts;

  /// Appends hold it shared while they produce; close() takes it
  /// exclusively to set `closed`: no produce starts after that.
  std::shared_mutex gate;
  bool closed = false;                 ///< guarded by gate
  std::atomic<bool> closing{false};    ///< readable without the gate
  /// Guards deferred and the poller's state below.
  std::mutex deferred_mutex;
  std::condition_variable poller_cv;
  /// Completions decided inside append() (never called there): run by
  /// the poller thread.
  std::vector<std::pair<partition_log::append_done, status>> deferred;
  /// The poller serves librdkafka until close() sets `draining`; it then
  /// says `quiet` and serves only `deferred` until `stop` (destruction).
  bool draining = false;
  bool quiet = false;
  bool closed_done = false; ///< close() ran the answers due before it
  bool stop = false;
  std::thread poller;

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl();

  void append(std::int32_t p, std::string bytes,
              partition_log::append_done done);
  void defer(partition_log::append_done done, status st);
  void run_deferred();
  void poll_loop();
  void close();
  /// The append error for librdkafka's `err` on a record of `size` bytes.
  status append_error(rd_kafka_resp_err_t err, std::size_t size) const;
  void log(eventlog::log_level level, const std::string& text) const;
};

/// Partition p of a kafka_log.
class kafka_partition final : public partition_log {
 public:
  kafka_partition(kafka_log::impl& log, std::int32_t p) : log_(log), p_(p) {
  }
  void append(std::string bytes, append_done done) override {
    log_.append(p_, std::move(bytes), std::move(done));
  }
  result<std::vector<log_record>> read(log_offset from, std::size_t max,
                                       std::chrono::milliseconds wait)
      override;
  result<log_offset> end_offset(std::chrono::milliseconds wait) override;
  std::optional<log_offset> known_end() const override;
  void on_readable(std::function<void()> fn) override;
  /// Stops fetching (destruction).
  void stop();

 private:
  // Restarts fetching at `from`.
  status restart(log_offset from);
  // Adds `m` to `out` or handles its error.
  status take(rd_kafka_message_t* m, log_offset from,
              std::vector<log_record>& out);
  // Stops fetching and drops the fetch queue (read_mutex_ held).
  void stop_fetching();
  // librdkafka's callback: the fetch queue got an element while empty.
  static void queue_event(rd_kafka_t* rk, void* opaque);

  kafka_log::impl& log_;
  std::int32_t p_;
  std::mutex read_mutex_;
  bool started_ = false; ///< fetching, guarded by read_mutex_
  log_offset next_ = -1; ///< the offset fetching will deliver next
  /// Where fetched records go while started_: a queue of its own (new at
  /// each restart, so nothing fetched before it is read after it) whose
  /// event callback tells on_readable's function.
  rd_kafka_queue_t* queue_ = nullptr;
  std::mutex notify_mutex_;
  std::function<void()> notify_; ///< guarded by notify_mutex_
};

/// "timeout" for librdkafka's timeouts, "io" otherwise, with `what`.
status kafka_status(rd_kafka_resp_err_t err, const std::string& what);

using metadata_ptr =
    std::unique_ptr<const rd_kafka_metadata_t,
                    decltype(&rd_kafka_metadata_destroy)>;

/// The metadata of `rkt` through `rk`, retried while no broker answers
/// (a broker starting, a connection refused) until `wait` passed: then
/// timeout, naming the last error.
result<metadata_ptr> topic_metadata(rd_kafka_t* rk, rd_kafka_topic_t* rkt,
                                    const std::string& topic,
                                    std::chrono::milliseconds wait);

} // namespace perdure::cluster
