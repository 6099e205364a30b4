// SPDX-License-Identifier: Apache-2.0
#pragma once

// The storage layout of Kafka subscriptions (FORMAT.md, "Source offsets"
// and "Dead letters"), written by the listeners module and read by the
// tools: one stored offset per partition, "kafka/GROUP/TOPIC/PARTITION"
// (the next offset to consume, committed with the batch that consumed the
// ones before); one dead-letter stream per subscription,
// "dead_letter/GROUP/TOPIC"; and the id of the workflow a record starts,
// "kafka/GROUP/TOPIC/PARTITION/OFFSET" ("#ATTEMPT" appended from the
// second attempt on). A topic never holds '/'; a group may.

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace perdure::kafka_records {

/// The prefix of every stored Kafka offset key.
inline constexpr std::string_view offset_prefix = "kafka/";
/// The prefix of every dead-letter stream id.
inline constexpr std::string_view dead_letter_prefix = "dead_letter/";

/// "kafka/GROUP/TOPIC/PARTITION".
inline std::string offset_key(std::string_view group, std::string_view topic,
                              std::int32_t partition) {
  return fmt::format("{}{}/{}/{}", offset_prefix, group, topic, partition);
}

/// "dead_letter/GROUP/TOPIC".
inline std::string dead_letter_stream(std::string_view group,
                                      std::string_view topic) {
  return fmt::format("{}{}/{}", dead_letter_prefix, group, topic);
}

/// The workflow id of the record at `offset`, for delivery `attempt`
/// (1 for the first).
inline std::string delivery_id(std::string_view group, std::string_view topic,
                               std::int32_t partition, std::int64_t offset,
                               int attempt) {
  if (attempt <= 1)
    return fmt::format("{}{}/{}/{}/{}", offset_prefix, group, topic,
                       partition, offset);
  return fmt::format("{}{}/{}/{}/{}#{}", offset_prefix, group, topic,
                     partition, offset, attempt);
}

/// A subscription: its consumer group and topic.
struct group_topic {
  std::string group;
  std::string topic;
};

/// GROUP and TOPIC of "GROUP/TOPIC"; nullopt when either is empty.
inline std::optional<group_topic> parse_group_topic(std::string_view s) {
  auto slash = s.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size())
    return std::nullopt;
  return group_topic{std::string{s.substr(0, slash)},
                     std::string{s.substr(slash + 1)}};
}

/// The parts of an offset key.
struct offset_key_parts {
  group_topic subscription;
  std::int32_t partition = 0;
};

/// The parts of "kafka/GROUP/TOPIC/PARTITION"; nullopt for any other key.
inline std::optional<offset_key_parts> parse_offset_key(std::string_view key) {
  if (!key.starts_with(offset_prefix))
    return std::nullopt;
  key.remove_prefix(offset_prefix.size());
  auto slash = key.rfind('/');
  if (slash == std::string_view::npos)
    return std::nullopt;
  auto gt = parse_group_topic(key.substr(0, slash));
  auto part = key.substr(slash + 1);
  std::int32_t p = 0;
  auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), p);
  if (!gt || part.empty() || ec != std::errc{}
      || end != part.data() + part.size() || p < 0)
    return std::nullopt;
  return offset_key_parts{std::move(*gt), p};
}

/// The subscription of "dead_letter/GROUP/TOPIC"; nullopt for any other id.
inline std::optional<group_topic> parse_dead_letter_stream(
  std::string_view id) {
  if (!id.starts_with(dead_letter_prefix))
    return std::nullopt;
  return parse_group_topic(id.substr(dead_letter_prefix.size()));
}

} // namespace perdure::kafka_records
