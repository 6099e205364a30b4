// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the Kafka subscription (kafka.cpp) and the Kafka event source
// (kafka_wait.cpp) share on librdkafka: property checks, the consumer's
// defaults and the conversion of a message into a kafka_record.

#include "perdure/eventlog/log_sink.hpp"
#include "perdure/listeners/kafka.hpp"

#include <librdkafka/rdkafka.h>
#include <map>
#include <string>

namespace perdure::detail {

/// Whether librdkafka flags property `key` as sensitive (passwords,
/// private keys, client secrets, SASL user names): such a value is never
/// logged; a wait's source must give it as "env:NAME".
bool is_secret_property(std::string_view key);

/// The value librdkafka gets: `value`, or for "env:NAME" the environment
/// variable NAME (invalid_argument when it is not set).
result<std::string> property_value(std::string_view key,
                                   const std::string& value);

/// Applies `props` to `conf` (resolving "env:NAME" values); the first bad
/// one is invalid_argument naming the property, never its value.
status set_kafka_properties(rd_kafka_conf_t* conf,
                            const std::map<std::string, std::string>& props);

/// A consumer for `src`: offsets are the log's (no auto commit, no auto
/// store), then `src.properties` override the defaults; librdkafka's log
/// lines go to `log`, which must outlive the consumer. Throws
/// `perdure::error` (invalid_argument) for a bad property.
rd_kafka_t* new_kafka_consumer(const kafka_source& src,
                               const eventlog::log_sink& log);

/// A producer on `brokers` for records perdure writes itself (a cluster
/// feed's dead letters): idempotent, acks=all, retried until delivered
/// (message.timeout.ms 0), then `props` (a source's: security and client
/// settings; consumer-only ones are ignored by librdkafka with a line in
/// `log`). `delivered`, when set, is librdkafka's dr_msg_cb (called from
/// rd_kafka_poll/flush). librdkafka's log lines go to `log`, which must
/// outlive the producer. Throws `perdure::error` (invalid_argument) for a
/// bad property.
rd_kafka_t* new_kafka_producer(
  const std::string& brokers, const std::map<std::string, std::string>& props,
  const eventlog::log_sink& log,
  void (*delivered)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr);

/// The record of consumed message `m` (not an error message).
kafka_record to_kafka_record(const rd_kafka_message_t* m);

} // namespace perdure::detail
