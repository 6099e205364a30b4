// SPDX-License-Identifier: Apache-2.0
// The Kafka page of `perdure ui`: every subscription the storage knows, from
// its stored offsets ("kafka/GROUP/TOPIC/PARTITION", the next offset to
// consume, committed with the batch that consumed the ones before) and its
// dead-letter stream ("dead_letter/GROUP/TOPIC"). Read from the storage
// only: the broker (and so the lag) is not asked. The layout is
// perdure/eventlog/records/kafka.hpp, shared with the listeners.

#include "format.hpp"
#include "payload_json.hpp"
#include "ui.hpp"

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/kafka.hpp"

#include <algorithm>
#include <map>

namespace perdure::tools {

namespace {

namespace kr = perdure::kafka_records;

struct subscription_view {
  json partitions = json::array();
  std::optional<eventlog::stream_info> dead;
};

// The last `n` dead letters of `info`, newest last.
result<json> recent(const eventlog::event_log& log,
                    const eventlog::stream_info& info, std::size_t n,
                    bool utc, bool redact) {
  json out = json::array();
  if (info.last_seq == 0)
    return out;
  auto from = info.last_seq >= info.first_seq + n ? info.last_seq - n + 1
                                                  : info.first_seq;
  auto recs = log.read(info.id, from, n);
  if (!recs)
    return std::move(recs).error();
  for (auto& r : *recs) {
    json j{{"seq", r.seq}, {"time", iso_time(r.time, utc)}};
    auto p = payload_json(r.kind, r.payload);
    if (r.kind == eventlog::to_u16(eventlog::record_kind::dead_letter)
        && p.is_object()) {
      for (auto k : {"topic", "partition", "offset", "key", "value",
                     "reason", "workflow"})
        j[k] = p.contains(k) ? p[k] : json(nullptr);
      if (redact)
        j["key"] = j["value"] = "(redacted)";
    } else {
      j["payload"] = redact ? json("(redacted)") : p;
    }
    out.push_back(std::move(j));
  }
  return out;
}

} // namespace

result<std::string> kafka_page(const eventlog::event_log& log, bool utc,
                               bool redact) {
  std::map<std::pair<std::string, std::string>, subscription_view> subs;
  auto offsets = log.list_offsets(kr::offset_prefix);
  if (!offsets)
    return std::move(offsets).error();
  for (auto& [key, next] : *offsets) {
    auto k = kr::parse_offset_key(key);
    if (!k)
      continue; // not a subscription's offset
    subs[{k->subscription.group, k->subscription.topic}]
      .partitions.push_back(
        json{{"partition", k->partition}, {"next_offset", next}});
  }
  auto dead = log.list_prefix(kr::dead_letter_prefix);
  if (!dead)
    return std::move(dead).error();
  for (auto& info : *dead) {
    auto gt = kr::parse_dead_letter_stream(info.id);
    if (gt && info.kind == eventlog::stream_kind::dead_letter)
      subs[{gt->group, gt->topic}].dead = std::move(info);
  }
  json out = json::array();
  for (auto& [gt, v] : subs) {
    // Partitions in numeric order (keys sort as text: 10 before 2).
    std::sort(v.partitions.begin(), v.partitions.end(),
              [](const json& a, const json& b) {
                return a["partition"] < b["partition"];
              });
    json s{{"group", gt.first},
           {"topic", gt.second},
           {"partitions", v.partitions},
           {"dead_letter_stream",
            kr::dead_letter_stream(gt.first, gt.second)},
           {"dead_letters", 0},
           {"recent_dead_letters", json::array()}};
    if (v.dead) {
      s["dead_letters"] = record_count(*v.dead);
      auto r = recent(log, *v.dead, 20, utc, redact);
      if (!r)
        return std::move(r).error();
      s["recent_dead_letters"] = std::move(*r);
    }
    out.push_back(std::move(s));
  }
  return json{{"subscriptions", std::move(out)}}.dump() + "\n";
}

} // namespace perdure::tools
