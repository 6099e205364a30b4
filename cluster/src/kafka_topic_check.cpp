// SPDX-License-Identifier: Apache-2.0
// The log topic's settings against what durability needs (no librdkafka).

#include "perdure/cluster/kafka_topic_check.hpp"

#include <fmt/format.h>

#include <charconv>

namespace perdure::cluster {

namespace {

std::optional<long long> integer(const std::string& s) {
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

// Checks one config of `configs`; adds a sentence to `out` when it is
// missing or `fits` says no.
template <class Fits>
void check(const std::map<std::string, std::string>& configs,
           const std::string& key, const std::string& needed, Fits fits,
           const std::string& why, std::vector<std::string>& out) {
  auto it = configs.find(key);
  if (it == configs.end()) {
    out.push_back(fmt::format("{} is not reported by the brokers; it must "
                              "be {} ({})",
                              key, needed, why));
    return;
  }
  if (!fits(it->second))
    out.push_back(fmt::format("{} is {}; it must be {} ({})", key,
                              it->second, needed, why));
}

} // namespace

std::vector<std::string>
kafka_topic_problems(const kafka_topic_description& topic,
                     const kafka_durability_needs& needs) {
  std::vector<std::string> out;
  if (needs.partitions > 0 && topic.partitions != needs.partitions)
    out.push_back(fmt::format(
        "the partition count is {}; it must be {} (the cluster's partition "
        "count is fixed at creation: ids map to partitions by it)",
        topic.partitions, needs.partitions));
  if (topic.replication_factor < needs.min_replication_factor)
    out.push_back(fmt::format(
        "the replication factor is {}; it must be at least {} (a "
        "partition must survive losing a broker)",
        topic.replication_factor, needs.min_replication_factor));
  if (!topic.configs) {
    if (needs.require_configs)
      out.push_back(fmt::format(
          "the topic's configs could not be read ({}); they must be "
          "verified (min.insync.replicas, unclean.leader.election.enable, "
          "retention, cleanup.policy)",
          topic.configs_error.empty() ? "no answer" : topic.configs_error));
    return out;
  }
  auto& c = *topic.configs;
  auto at_least = [](long long min) {
    return [min](const std::string& v) {
      auto n = integer(v);
      return n && *n >= min;
    };
  };
  auto equals = [](std::string want) {
    return [want](const std::string& v) { return v == want; };
  };
  check(c, "min.insync.replicas",
        fmt::format("at least {}", needs.min_insync_replicas),
        at_least(needs.min_insync_replicas),
        "with acks=all an acknowledged record is on that many brokers", out);
  if (needs.min_insync_replicas > topic.replication_factor)
    out.push_back(fmt::format(
        "min.insync.replicas {} needs at least that many replicas; the "
        "replication factor is {} (every append would fail)",
        needs.min_insync_replicas, topic.replication_factor));
  check(c, "unclean.leader.election.enable", "false", equals("false"),
        "an out-of-sync replica made leader loses acknowledged records",
        out);
  if (!needs.allow_limited_retention) {
    auto why = "the log is the only copy of perdure's history; limit "
               "retention only with the explicit opt-out";
    check(c, "retention.ms", "-1", equals("-1"), why, out);
    check(c, "retention.bytes", "-1", equals("-1"), why, out);
  }
  check(c, "cleanup.policy", "delete", equals("delete"),
        "compaction keeps the last record per key; the log needs them all",
        out);
  return out;
}

status check_kafka_topic(const kafka_topic_description& topic,
                         const kafka_durability_needs& needs) {
  auto problems = kafka_topic_problems(topic, needs);
  if (problems.empty())
    return {};
  std::string text = fmt::format("log topic '{}' does not fit perdure's "
                                 "durability needs: ",
                                 topic.topic);
  for (std::size_t i = 0; i < problems.size(); ++i)
    text += (i ? "; " : "") + problems[i];
  return {errc::invalid_argument, text};
}

} // namespace perdure::cluster
