// SPDX-License-Identifier: Apache-2.0
// kafka_log: reading a partition by offset (librdkafka's simple consumer
// API, no group), its high watermark, and the topic's description.

#include "kafka_log_impl.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace perdure::cluster {

namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// A blocking librdkafka call is cut in slices this long so that close()
// ends a waiting read promptly.
constexpr auto slice = 50ms;

int ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::max<std::int64_t>(d.count(), 0));
}

status closed_status(const std::string& topic) {
  return {errc::closed, fmt::format("log topic '{}' is closed", topic)};
}

} // namespace

void kafka_partition::queue_event(rd_kafka_t*, void* opaque) {
  auto& self = *static_cast<kafka_partition*>(opaque);
  std::lock_guard guard{self.notify_mutex_};
  if (self.notify_)
    self.notify_();
}

void kafka_partition::on_readable(std::function<void()> fn) {
  std::lock_guard guard{notify_mutex_};
  notify_ = std::move(fn);
}

void kafka_partition::stop_fetching() {
  if (started_)
    rd_kafka_consume_stop(log_.reader_topic, p_);
  started_ = false;
  if (queue_)
    rd_kafka_queue_destroy(queue_);
  queue_ = nullptr;
}

status kafka_partition::restart(log_offset from) {
  stop_fetching();
  queue_ = rd_kafka_queue_new(log_.reader);
  rd_kafka_queue_cb_event_enable(queue_, &kafka_partition::queue_event,
                                 this);
  if (rd_kafka_consume_start_queue(log_.reader_topic, p_, from, queue_)
      != 0)
    return kafka_status(rd_kafka_last_error(),
                        fmt::format("reading log topic '{}' [{}] from {}",
                                    log_.topic, p_, from));
  started_ = true;
  next_ = from;
  return {};
}

void kafka_partition::stop() {
  std::lock_guard guard{read_mutex_};
  stop_fetching();
}

status kafka_partition::take(rd_kafka_message_t* m, log_offset from,
                             std::vector<log_record>& out) {
  std::unique_ptr<rd_kafka_message_t, decltype(&rd_kafka_message_destroy)>
      guard{m, rd_kafka_message_destroy};
  if (!m->err) {
    // A record before `from` can only be left from before a restart.
    if (m->offset >= from && m->offset >= next_) {
      out.push_back({m->offset,
                     std::string{static_cast<const char*>(m->payload),
                                 m->len}});
      next_ = m->offset + 1;
    }
    return {};
  }
  if (m->err != RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET
      && m->err != RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
    // Transient (a broker away, a leader moving): librdkafka retries.
    log_.log(eventlog::log_level::debug,
             fmt::format("reading log topic '{}' [{}]: {}", log_.topic, p_,
                         rd_kafka_message_errstr(m)));
    return {};
  }
  // The fetch position is outside the log: fetching stopped. Below the
  // first record kept is not_found; beyond the end, nothing to read yet.
  stop_fetching();
  std::int64_t low = 0, high = 0;
  auto err = rd_kafka_query_watermark_offsets(
      log_.reader, log_.topic.c_str(), p_, &low, &high, 5000);
  if (!err && next_ < low)
    return {errc::not_found,
            fmt::format("offset {} of log topic '{}' [{}] is no longer "
                        "kept: the first kept offset is {}",
                        next_, log_.topic, p_, low)};
  return {};
}

result<std::vector<log_record>>
kafka_partition::read(log_offset from, std::size_t max,
                      std::chrono::milliseconds wait) {
  std::lock_guard guard{read_mutex_};
  if (log_.closing)
    return closed_status(log_.topic);
  if (from < 0)
    return unexpected{errc::invalid_argument,
                      fmt::format("read of log topic '{}' [{}] from "
                                  "offset {}: offsets are >= 0",
                                  log_.topic, p_, from)};
  std::vector<log_record> out;
  if (max == 0)
    return out;
  if (!started_ || next_ != from)
    if (auto st = restart(from); !st)
      return st;
  // Wait for the first record in slices (close() may end the wait), then
  // take what else is there without waiting.
  auto end = clock::now() + wait;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - clock::now());
    auto* m = rd_kafka_consume_queue(
        queue_, ms(std::min<std::chrono::milliseconds>(left, slice)));
    if (m) {
      if (auto st = take(m, from, out); !st)
        return st;
      if (!out.empty() || !started_)
        break;
    }
    if (log_.closing)
      return closed_status(log_.topic);
    if (clock::now() >= end)
      return out;
  }
  if (!started_)
    return out;
  std::vector<rd_kafka_message_t*> batch(max - out.size());
  auto n = rd_kafka_consume_batch_queue(queue_, 0, batch.data(),
                                        batch.size());
  for (ssize_t i = 0; i < n; ++i) {
    auto st = take(batch[static_cast<std::size_t>(i)], from, out);
    if (!st) {
      for (auto j = i + 1; j < n; ++j)
        rd_kafka_message_destroy(batch[static_cast<std::size_t>(j)]);
      return st;
    }
  }
  return out;
}

std::optional<log_offset> kafka_partition::known_end() const {
  if (log_.closing)
    return std::nullopt;
  std::int64_t low = 0, high = 0;
  // The cached watermarks of the fetcher (no request); invalid (negative)
  // until a fetch answer for this partition came.
  auto err = rd_kafka_get_watermark_offsets(log_.reader, log_.topic.c_str(),
                                            p_, &low, &high);
  if (err || high < 0)
    return std::nullopt;
  return log_offset{high};
}

result<log_offset>
kafka_partition::end_offset(std::chrono::milliseconds wait) {
  auto end = clock::now() + wait;
  for (;;) {
    if (log_.closing)
      return closed_status(log_.topic);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - clock::now());
    // At least one try, however short the wait.
    auto now = std::max<std::chrono::milliseconds>(
        std::min<std::chrono::milliseconds>(left, 1000ms), 1ms);
    std::int64_t low = 0, high = 0;
    auto err = rd_kafka_query_watermark_offsets(
        log_.reader, log_.topic.c_str(), p_, &low, &high, ms(now));
    if (!err)
      return log_offset{high};
    // A broker away or a leader moving: asked again until `wait`.
    bool transient = err == RD_KAFKA_RESP_ERR__TIMED_OUT
                     || err == RD_KAFKA_RESP_ERR__TRANSPORT
                     || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
                     || err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION
                     || err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
    if (!transient || clock::now() >= end)
      return kafka_status(err, fmt::format("end offset of log topic '{}' "
                                           "[{}]",
                                           log_.topic, p_));
    if (err != RD_KAFKA_RESP_ERR__TIMED_OUT)
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              end - clock::now()),
          20ms));
  }
}

result<kafka_topic_description>
kafka_log::describe(std::chrono::milliseconds wait) {
  return describe(wait, wait);
}

result<kafka_topic_description>
kafka_log::describe(std::chrono::milliseconds wait,
                    std::chrono::milliseconds configs_wait) {
  auto& l = *impl_;
  if (l.closing)
    return closed_status(l.topic);
  kafka_topic_description d;
  d.topic = l.topic;
  auto meta = topic_metadata(l.reader, l.reader_topic, l.topic, wait);
  if (!meta)
    return meta.error();
  auto* md = meta->get();
  if (md->topic_cnt != 1 || md->topics[0].err)
    return unexpected{errc::not_found,
                      fmt::format("log topic '{}': {}", l.topic,
                                  md->topic_cnt
                                      ? rd_kafka_err2str(md->topics[0].err)
                                      : "no metadata")};
  auto& t = md->topics[0];
  d.partitions = t.partition_cnt;
  d.replication_factor = t.partition_cnt ? INT32_MAX : 0;
  d.fewest_in_sync = d.replication_factor;
  for (int i = 0; i < t.partition_cnt; ++i) {
    d.replication_factor =
        std::min(d.replication_factor, t.partitions[i].replica_cnt);
    d.fewest_in_sync = std::min(d.fewest_in_sync, t.partitions[i].isr_cnt);
  }

  if (configs_wait.count() <= 0) {
    d.configs_error = "configs not asked (no wait for DescribeConfigs)";
    return d;
  }
  // DescribeConfigs, through the producer's admin API.
  auto* queue = rd_kafka_queue_new(l.producer);
  auto* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC,
                                          l.topic.c_str());
  auto* opts = rd_kafka_AdminOptions_new(l.producer,
                                         RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(opts,
                                            std::max(ms(configs_wait), 1),
                                            errstr, sizeof errstr);
  rd_kafka_DescribeConfigs(l.producer, &res, 1, opts, queue);
  auto* ev = rd_kafka_queue_poll(queue, ms(configs_wait) + 1000);
  std::map<std::string, std::string> configs;
  if (!ev) {
    d.configs_error = fmt::format("DescribeConfigs: no answer within {} ms",
                                  configs_wait.count());
  } else if (rd_kafka_event_error(ev)) {
    d.configs_error = fmt::format("DescribeConfigs: {}",
                                  rd_kafka_event_error_string(ev));
  } else {
    auto* r = rd_kafka_event_DescribeConfigs_result(ev);
    std::size_t n = 0;
    auto** rs = r ? rd_kafka_DescribeConfigs_result_resources(r, &n)
                  : nullptr;
    if (n == 0) {
      d.configs_error = "DescribeConfigs: no resource in the answer";
    } else if (rd_kafka_ConfigResource_error(rs[0])) {
      d.configs_error = fmt::format(
          "DescribeConfigs: {}", rd_kafka_ConfigResource_error_string(rs[0]));
    } else {
      std::size_t cnt = 0;
      auto** entries = rd_kafka_ConfigResource_configs(rs[0], &cnt);
      for (std::size_t i = 0; i < cnt; ++i) {
        auto* value = rd_kafka_ConfigEntry_value(entries[i]);
        configs[rd_kafka_ConfigEntry_name(entries[i])] =
            value ? value : "";
      }
      d.configs = std::move(configs);
    }
  }
  if (ev)
    rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_ConfigResource_destroy(res);
  rd_kafka_queue_destroy(queue);
  return d;
}

} // namespace perdure::cluster
