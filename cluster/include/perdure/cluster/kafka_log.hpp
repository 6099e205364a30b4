// SPDX-License-Identifier: Apache-2.0
#pragma once

// The cluster's replicated log on Kafka: topic `perdure.<app>.log`, one
// partition_log per Kafka partition. Appends go through one idempotent
// producer per kafka_log (acks=all), so a retried produce is never
// duplicated and appends to one partition keep their order; reads fetch by
// offset without a consumer group. The topic must exist: kafka_log never
// creates it (describe() and check_kafka_topic() say whether it fits).

#include "perdure/cluster/kafka_topic_check.hpp"
#include "perdure/cluster/partition_log.hpp"
#include "perdure/eventlog/log_sink.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace perdure::cluster {

/// How a kafka_log reaches its topic.
struct kafka_log_options {
  /// bootstrap.servers: "host:port,...".
  std::string brokers;
  /// The application: the topic is `perdure.<app>.log`.
  std::string app;
  /// librdkafka properties for the producer and the reader alike
  /// (security.protocol, sasl.*, linger.ms, fetch.wait.max.ms, ...); they
  /// override kafka_log's defaults (see cluster/README.md). Durability is
  /// not negotiable: enable.idempotence other than true, or acks other
  /// than all/-1, is invalid_argument.
  std::map<std::string, std::string> properties;
  /// librdkafka's log lines (and kafka_log's own) go here; empty: stderr.
  eventlog::log_sink log;
  /// How long open() waits for the topic's metadata.
  std::chrono::milliseconds open_timeout{10000};
  /// How long close() lets appends in flight finish before failing the
  /// rest with errc::closed.
  std::chrono::milliseconds close_timeout{5000};
};

/// "perdure.<app>.log".
std::string kafka_log_topic(std::string_view app);

/// The log topic of one application, open for appending and reading.
class kafka_log {
 public:
  /// Connects and reads the topic's metadata. Errors: invalid_argument
  /// (empty brokers or app, a bad or forbidden property), not_found (the
  /// topic does not exist), timeout (no broker answered in open_timeout).
  static result<std::unique_ptr<kafka_log>> open(kafka_log_options options);

  /// close(), then frees everything. Bounded: never waits much longer
  /// than close_timeout.
  ~kafka_log();
  kafka_log(const kafka_log&) = delete;
  kafka_log& operator=(const kafka_log&) = delete;

  const std::string& topic() const noexcept;

  /// The topic's partition count when it was opened.
  std::int32_t partition_count() const noexcept;

  /// The producer's message.max.bytes: an append of more bytes fails with
  /// invalid_argument (the brokers' max.message.bytes may be lower).
  std::size_t max_record_bytes() const noexcept;

  /// Partition `p` of the log; valid as long as this kafka_log.
  /// @pre 0 <= p < partition_count()
  /// Its append's `done` gets the record's offset from the delivery
  /// report, or invalid_argument (record over the size limit, which the
  /// message names; later appends are unaffected), timeout (not
  /// acknowledged within message.timeout.ms), closed (the log closed
  /// first) or io. Its reads serialise per partition: a reader waiting
  /// holds up other readers of the same partition, not of others.
  partition_log& partition(std::int32_t p);

  /// The topic as the brokers describe it now: partition count and
  /// replication from metadata, configs from DescribeConfigs when the
  /// brokers answer it (librdkafka 2.0.2's mock does not: then configs is
  /// nullopt and configs_error says so). Errors: timeout, not_found.
  result<kafka_topic_description> describe(std::chrono::milliseconds wait);
  /// As describe(wait), waiting `configs_wait` for DescribeConfigs (a
  /// broker that never answers it, like the mock, costs that long; 0:
  /// not asked, configs nullopt).
  result<kafka_topic_description>
  describe(std::chrono::milliseconds wait,
           std::chrono::milliseconds configs_wait);

  /// Stops taking appends (later ones fail with closed), waits up to
  /// close_timeout for those in flight, fails what is left with closed,
  /// and ends reads (closed). Every append's `done` has been called when
  /// it returns. Idempotent; call it from no `done` callback.
  void close();

  struct impl;

 private:
  explicit kafka_log(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

} // namespace perdure::cluster
