// SPDX-License-Identifier: Apache-2.0
#pragma once

// The state of a cluster feed (kafka_feed.hpp): its consumer and
// dead-letter producer, its thread and counters. The consumer loop is in
// kafka_feed.cpp, the dead letters and targets in kafka_feed_targets.cpp.

#include "perdure/cluster/kafka_feed.hpp"

// librdkafka's client set-up is the listeners module's (one owner: the
// properties, the "env:NAME" values, the log forwarding).
#include "kafka_common.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <atomic>
#include <chrono>
#include <librdkafka/rdkafka.h>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace perdure::cluster {

/// The source's properties a producer takes: those of the connection
/// (security, client), not the consumer's (group, fetch, offsets), which
/// librdkafka would warn about.
std::map<std::string, std::string>
producer_properties(const std::map<std::string, std::string>& props);

struct feed::impl {
  engine_host* host = nullptr;
  kafka_source src;
  feed_target target;
  feed_options o;  ///< o.log outlives the clients (their opaque)
  std::string dlq; ///< the dead-letter topic
  rd_kafka_t* consumer = nullptr;
  rd_kafka_t* producer = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> records{0}, started{0}, dead{0}, commits{0};
  mutable std::mutex mu;
  std::string error; ///< guarded by mu (as is destroying `consumer`)
  /// Dead letters of the current round whose produce failed (the
  /// producer's delivery reports count here, also during stop()).
  std::atomic<int> dl_failed{0};
  std::once_flag stopped;
  /// The topic's partitions assigned here, as the consumer thread last
  /// saw them (guarded by mu): what the lag metric reports on.
  std::vector<std::int32_t> parts;
  std::vector<std::uint64_t> metric_ids; ///< the host's callbacks

  /// One consumed record: its action, or why it is poison.
  struct item {
    kafka_record record;
    feed_action action;
    std::string poison;
  };

  ~impl() {
    stop();
  }

  void run();
  /// Adds the feed's families to the host's /metrics (records, dead
  /// letters, lag per assigned partition); removed by stop().
  void add_metrics();
  void refresh_parts();
  /// The topic's partitions the group assigned the consumer, ascending
  /// (empty when librdkafka cannot say).
  std::vector<std::int32_t> assignment() const;
  void stop();
  std::vector<item> take_batch();
  void process(std::vector<item>& items);
  bool send_all(std::vector<item>& items);
  bool send(item& it);
  void commit(const std::map<std::int32_t, std::int64_t>& next,
              std::size_t count);
  /// Produces `letters` to the dead-letter topic and waits until each is
  /// acknowledged (tried again while it fails); false when the feed
  /// stops first.
  bool produce_dead_letters(const std::vector<const item*>& letters);
  /// librdkafka's delivery report: counts a failed produce in the
  /// message's opaque (a std::atomic<int>).
  static void delivered(rd_kafka_t*, const rd_kafka_message_t* m, void*);
  /// Whether `st` (a conflict) means this door-less host cannot reach the
  /// node leading `target`, rather than a refusal of the record.
  bool unreachable(const std::string& target, const perdure::status& st) const;
  /// Logs `what` (a warning or worse is also last_error()).
  void report(eventlog::log_level level, const std::string& what);
  /// Waits `wait` unless the feed stops first (then false).
  bool pause(std::chrono::milliseconds wait);
};

} // namespace perdure::cluster
