// SPDX-License-Identifier: Apache-2.0
#pragma once

// What durability needs of the log topic `perdure.<app>.log`, as a pure
// check of the settings a broker reported (kafka_log::describe reads
// them). Kafka acknowledges an acks=all write once every in-sync replica
// has it; these settings make "acknowledged" mean "survives the loss of a
// broker" and "kept until perdure no longer needs it".

#include "perdure/eventlog/status.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace perdure::cluster {

/// A topic as the brokers describe it.
struct kafka_topic_description {
  std::string topic;
  std::int32_t partitions = 0;
  /// The fewest replicas any partition has (metadata).
  std::int32_t replication_factor = 0;
  /// The fewest in-sync replicas any partition has now (metadata; the
  /// librdkafka mock reports every replica as in sync).
  std::int32_t fewest_in_sync = 0;
  /// The topic's configuration (DescribeConfigs), or nullopt when the
  /// brokers could not describe it; then configs_error says why.
  std::optional<std::map<std::string, std::string>> configs;
  std::string configs_error;
};

/// What the log needs. The defaults are those of a production cluster.
struct kafka_durability_needs {
  /// The partition count P the cluster was created with; 0: any count.
  std::int32_t partitions = 0;
  /// Replicas per partition: 3 survives one broker lost while another is
  /// down for maintenance.
  std::int32_t min_replication_factor = 3;
  /// The topic's `min.insync.replicas`: with acks=all an acknowledged
  /// write is on at least this many brokers.
  std::int32_t min_insync_replicas = 2;
  /// The log is perdure's only copy until snapshots exist: `retention.ms`
  /// and `retention.bytes` must be -1 unless this explicit opt-out is set.
  bool allow_limited_retention = false;
  /// false: a broker that cannot describe configs (librdkafka's mock
  /// cluster answers no DescribeConfigs) passes the config checks
  /// unverified; partitions and replication are still checked.
  bool require_configs = true;
};

/// Every way `topic` falls short of `needs`, one sentence each naming the
/// setting, the value found and the value needed; empty when it fits.
/// A setting missing from known configs is a problem too.
std::vector<std::string>
kafka_topic_problems(const kafka_topic_description& topic,
                     const kafka_durability_needs& needs);

/// ok, or invalid_argument whose message lists every problem.
status check_kafka_topic(const kafka_topic_description& topic,
                         const kafka_durability_needs& needs);

} // namespace perdure::cluster
