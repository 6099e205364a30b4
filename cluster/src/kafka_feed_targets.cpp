// SPDX-License-Identifier: Apache-2.0
// A cluster feed's targets (workflow starts, signals), its keys, its dead
// letters and its families on the host's /metrics (kafka_feed.hpp).

#include "kafka_feed_impl.hpp"
#include "perdure/cluster/kafka_feed.hpp"
#include "perdure/eventlog/records/actor.hpp"
#include "perdure/runtime/child.hpp"
#include "perdure/runtime/errors.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace perdure::cluster {

namespace {

// engine_keyed.cpp's bound on an idempotency key.
constexpr std::size_t max_key_size = 200;

perdure::status as_status(const result<std::string>& r) {
  return r ? perdure::status{} : r.error();
}

// "kafka#HASH/PARTITION": record r's Kafka partition when the group and
// topic make a key too long (HASH of both).
std::string hashed_partition(const kafka_source& src, const kafka_record& r) {
  return fmt::format("kafka#{:016x}/{}", xxh64(src.group + '\0' + r.topic),
                     r.partition);
}

// Consumer-only properties: by prefix, or whole names (librdkafka's
// CONFIGURATION.md, scope C).
constexpr std::array<std::string_view, 6> consumer_prefixes = {
    "group.", "auto.", "enable.auto.", "fetch.", "queued.", "consume."};
constexpr std::array<std::string_view, 8> consumer_names = {
    "session.timeout.ms",   "heartbeat.interval.ms",
    "max.poll.interval.ms", "partition.assignment.strategy",
    "enable.partition.eof", "check.crcs",
    "isolation.level",      "coordinator.query.interval.ms"};

} // namespace

std::map<std::string, std::string>
producer_properties(const std::map<std::string, std::string>& props) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : props) {
    bool consumer = false;
    for (auto p : consumer_prefixes)
      consumer = consumer || k.starts_with(p);
    for (auto n : consumer_names)
      consumer = consumer || k == n;
    if (!consumer)
      out.emplace(k, v);
  }
  return out;
}

std::string feed_key(const kafka_source& src, const kafka_record& r,
                     int attempt) {
  auto key = delivery_key(src, r, attempt);
  if (key.size() <= max_key_size)
    return key;
  // A long group or topic name: hashed, the coordinates kept.
  key = fmt::format("{}/{}", hashed_partition(src, r), r.offset);
  if (attempt > 1)
    key += fmt::format("#{}", attempt);
  return key;
}

std::string sequenced_feed_key(const kafka_source& src, const kafka_record& r,
                               int attempt) {
  constexpr std::int64_t offsets = std::int64_t{1} << 55;
  if (attempt < 1 || attempt > 255 || r.offset < 0 || r.offset >= offsets)
    return feed_key(src, r, attempt);
  auto seq = static_cast<std::uint64_t>(r.offset) * 256
             + static_cast<std::uint64_t>(attempt);
  auto key = actor_records::source_key(
      seq, fmt::format("kafka/{}/{}/{}", src.group, r.topic, r.partition));
  if (key.size() <= max_key_size)
    return key;
  return actor_records::source_key(seq, hashed_partition(src, r));
}

feed_target workflow_target(const engine_host& host, const kafka_source& src,
                            record_workflow target, const feed_options& o) {
  if (host.routing().separator() && !o.route)
    throw error{{errc::invalid_argument,
                 fmt::format("feed of '{}': the host routes ids by separator "
                             "'{}', so every workflow id \"kafka/...\" "
                             "would live on one partition; set "
                             "feed_options::route",
                             src.topic, *host.routing().separator())}};
  if (!target.make)
    throw error{{errc::invalid_argument, "feed: the record_workflow is empty"}};
  return {[make = std::move(target.make), route = o.route,
           group = src.group](const kafka_record& r) {
    auto graph = detail::encode_child_graph(make(r)); // throws: poison
    auto id =
        (route ? route(r) : std::string{}) +
        fmt::format("kafka/{}/{}/{}/{}", group, r.topic, r.partition, r.offset);
    feed_action a;
    a.target = id;
    a.send = [id = std::move(id),
              graph = std::move(graph)](engine_host& h, const std::string&) {
      return as_status(h.request(request_kind::start, id, {}, graph));
    };
    return a;
  }};
}

feed_target signal_target(record_signal target) {
  if (!target.make)
    throw error{{errc::invalid_argument, "feed: the record_signal is empty"}};
  return {[make = std::move(target.make)](const kafka_record& r) {
    auto s = make(r); // throws: poison
    feed_action a;
    a.target = s.workflow;
    a.send = [s = std::move(s)](engine_host& h, const std::string& key) {
      return h.signal_bytes(s.workflow, s.name, s.value, key);
    };
    return a;
  }};
}

result<std::unique_ptr<feed>> subscribe(engine_host& host, kafka_source src,
                                        record_workflow target,
                                        feed_options o) {
  try {
    auto t = workflow_target(host, src, std::move(target), o);
    return subscribe(host, std::move(src), std::move(t), std::move(o));
  } catch (const error& e) {
    return unexpected{e.as_status()};
  }
}

result<std::unique_ptr<feed>> subscribe(engine_host& host, kafka_source src,
                                        record_signal target, feed_options o) {
  try {
    auto t = signal_target(std::move(target));
    return subscribe(host, std::move(src), std::move(t), std::move(o));
  } catch (const error& e) {
    return unexpected{e.as_status()};
  }
}

// -- dead letters
// -----------------------------------------------------------------

void feed::impl::delivered(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err && m->_private)
    ++*static_cast<std::atomic<int>*>(m->_private);
}

bool feed::impl::produce_dead_letters(const std::vector<const item*>& letters) {
  while (!stopping) {
    dl_failed = 0;
    std::size_t queued = 0;
    for (auto* it : letters) {
      auto& r = it->record;
      auto hdrs = rd_kafka_headers_new(r.headers.size() + 4);
      for (auto& [k, v] : r.headers)
        rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()),
                            v.data(), v.size());
      auto add = [&](const char* name, const std::string& v) {
        rd_kafka_header_add(hdrs, name, -1, v.data(), v.size());
      };
      add("perdure.reason", it->poison);
      add("perdure.source",
          fmt::format("{}/{}/{}", r.topic, r.partition, r.offset));
      add("perdure.group", src.group);
      if (!it->action.target.empty())
        add("perdure.target", it->action.target);
      auto err = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(dlq.c_str()),
          RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
          RD_KAFKA_V_OPAQUE(&dl_failed), RD_KAFKA_V_END);
      if (err) {
        rd_kafka_headers_destroy(hdrs); // not taken on failure
        ++dl_failed;
        break;
      }
      ++queued;
    }
    // Retried until delivered (message.timeout.ms 0): wait for it.
    while (!stopping && rd_kafka_outq_len(producer) > 0)
      rd_kafka_flush(producer, 100);
    if (stopping)
      return false;
    if (dl_failed == 0) {
      dead += queued;
      return true;
    }
    report(eventlog::log_level::warning,
           fmt::format("{} dead letters not produced to '{}', produced again "
                       "in {} ms",
                       dl_failed.load(), dlq, o.retry_wait.count()));
    if (!pause(o.retry_wait))
      return false;
  }
  return false;
}

// -- /metrics
// ---------------------------------------------------------------------

std::vector<std::int32_t> feed::impl::assignment() const {
  std::vector<std::int32_t> out;
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(consumer, &list) || !list)
    return out;
  for (int i = 0; i < list->cnt; ++i)
    out.push_back(list->elems[i].partition);
  rd_kafka_topic_partition_list_destroy(list);
  std::sort(out.begin(), out.end());
  return out;
}

void feed::impl::refresh_parts() {
  auto now = assignment();
  std::lock_guard guard{mu};
  parts = std::move(now);
}

void feed::impl::add_metrics() {
  metrics::labels ls{{"group", src.group}, {"topic", src.topic}};
  auto& r = host->metrics();
  auto count = [&](const char* name, const char* help,
                   std::atomic<std::uint64_t>& n) {
    metric_ids.push_back(
        r.add_callback(name, help, metrics::kind::counter, [ls, &n] {
          return std::vector<metrics::sample>{
              {ls, static_cast<double>(n.load())}};
        }));
  };
  count("perdure_kafka_feed_records_total",
        "Records a cluster feed on this node committed to its consumer "
        "group (each answered by its owner or dead-lettered).",
        records);
  count("perdure_kafka_feed_dead_letters_total",
        "Records a cluster feed on this node produced to its dead-letter "
        "topic.",
        dead);
  // Per partition assigned here: the high watermark librdkafka last
  // fetched minus the consumer's position (local state, no broker round
  // trip); a batch in flight counts as consumed.
  metric_ids.push_back(r.add_callback(
      "perdure_kafka_feed_lag",
      "Records of a partition a cluster feed on this node consumes, not "
      "taken yet: the high watermark minus the consumer's position.",
      metrics::kind::gauge, [this, ls] {
        std::vector<std::int32_t> now;
        {
          std::lock_guard guard{mu};
          now = parts;
        }
        std::vector<metrics::sample> out;
        if (now.empty())
          return out;
        auto list =
            rd_kafka_topic_partition_list_new(static_cast<int>(now.size()));
        for (auto p : now)
          rd_kafka_topic_partition_list_add(list, src.topic.c_str(), p);
        rd_kafka_position(consumer, list);
        for (int i = 0; i < list->cnt; ++i) {
          auto& e = list->elems[i];
          std::int64_t low = 0, high = 0;
          if (rd_kafka_get_watermark_offsets(consumer, src.topic.c_str(),
                                             e.partition, &low, &high) !=
                  RD_KAFKA_RESP_ERR_NO_ERROR ||
              high < 0)
            continue; // nothing fetched yet
          auto at = e.offset >= 0 ? e.offset : low;
          auto l = ls;
          l.emplace_back("partition", std::to_string(e.partition));
          out.push_back(
              {std::move(l),
               static_cast<double>(std::max<std::int64_t>(0, high - at))});
        }
        rd_kafka_topic_partition_list_destroy(list);
        return out;
      }));
}

} // namespace perdure::cluster
