// SPDX-License-Identifier: Apache-2.0
// kafka_log: opening the topic, appending through one idempotent producer,
// closing without hanging.

#include "kafka_log_impl.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>

namespace perdure::cluster {

namespace {

using namespace std::chrono_literals;

// Defaults every kafka_log starts from; options.properties override them.
// Why each: cluster/README.md.
const std::map<std::string, std::string> producer_defaults{
    // A metadata request must never create the log topic (a producer's
    // librdkafka default is true; a broker with auto.create.topics.enable
    // would make it with its defaults: one replica, limited retention).
    {"allow.auto.create.topics", "false"},
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"linger.ms", "0"},
    {"socket.nagle.disable", "true"},
    {"message.timeout.ms", "30000"},
    {"reconnect.backoff.ms", "20"},
    {"reconnect.backoff.max.ms", "1000"},
};

const std::map<std::string, std::string> reader_defaults{
    {"enable.partition.eof", "false"},
    {"auto.offset.reset", "error"},
    {"fetch.wait.max.ms", "100"},
    {"fetch.error.backoff.ms", "50"},
    {"socket.nagle.disable", "true"},
    {"reconnect.backoff.ms", "20"},
    {"reconnect.backoff.max.ms", "1000"},
};

// librdkafka's log lines go to the log's sink; its warnings that a
// producer property is ignored by the reader (and the reverse) are
// expected, as both get the same user properties.
void forward_log(const rd_kafka_t* rk, int level, const char* facility,
                 const char* line) {
  auto* log = static_cast<const kafka_log::impl*>(rd_kafka_opaque(rk));
  std::string_view text{line};
  if (!log || (std::string_view{facility} == "CONFWARN"
               && text.find("will be ignored by this") != text.npos))
    return;
  auto lvl = level <= 3   ? eventlog::log_level::error
             : level == 4 ? eventlog::log_level::warning
             : level <= 6 ? eventlog::log_level::info
                          : eventlog::log_level::debug;
  log->log(lvl, fmt::format("kafka {} {}: {}", rd_kafka_name(rk), facility,
                            line));
}

// The record's `done`, travelling with it through librdkafka.
struct pending {
  partition_log::append_done done;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* log = static_cast<kafka_log::impl*>(opaque);
  std::unique_ptr<pending> op{static_cast<pending*>(m->_private)};
  if (!op)
    return;
  try {
    if (m->err)
      op->done(log->append_error(m->err, m->len));
    else
      op->done(log_offset{m->offset});
  } catch (const std::exception& e) {
    log->log(eventlog::log_level::error,
             fmt::format("kafka log append callback threw: {}", e.what()));
  }
}

// A new librdkafka handle of `type` with `defaults` then `user` properties.
result<rd_kafka_t*> new_handle(rd_kafka_type_t type, kafka_log::impl& log,
                               std::map<std::string, std::string> props,
                               const std::map<std::string, std::string>& user) {
  for (auto& [k, v] : user)
    props[k] = v;
  props["bootstrap.servers"] = log.options.brokers;
  auto conf = rd_kafka_conf_new();
  char err[512];
  for (auto& [k, v] : props) {
    auto rc = rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
    if (rc != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      // librdkafka quotes the value, which may be a secret: not repeated.
      std::string why = err;
      if (!v.empty())
        for (auto at = why.find(v); at != why.npos; at = why.find(v, at))
          why.replace(at, v.size(), "<value hidden>");
      return unexpected{errc::invalid_argument,
                        fmt::format("kafka log property '{}' is refused by "
                                    "librdkafka {}: {}",
                                    k, rd_kafka_version_str(), why)};
    }
  }
  rd_kafka_conf_set_opaque(conf, &log);
  rd_kafka_conf_set_log_cb(conf, forward_log);
  if (type == RD_KAFKA_PRODUCER)
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  auto rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return unexpected{errc::invalid_argument,
                      fmt::format("kafka log {}: {}",
                                  type == RD_KAFKA_PRODUCER ? "producer"
                                                            : "reader",
                                  err)};
  }
  return rk;
}

status check_user_properties(const kafka_log_options& o) {
  if (o.brokers.empty())
    return {errc::invalid_argument, "kafka log: brokers are empty"};
  if (o.app.empty())
    return {errc::invalid_argument, "kafka log: the app name is empty"};
  for (auto& [k, v] : o.properties) {
    if (k == "enable.idempotence" && v != "true")
      return {errc::invalid_argument,
              fmt::format("kafka log property enable.idempotence is {}; "
                          "it must be true (a retried append must not be "
                          "duplicated or reordered)",
                          v)};
    if ((k == "acks" || k == "request.required.acks") && v != "all"
        && v != "-1")
      return {errc::invalid_argument,
              fmt::format("kafka log property {} is {}; it must be all "
                          "(an append is durable once every in-sync "
                          "replica has it)",
                          k, v)};
    if (k == "bootstrap.servers")
      return {errc::invalid_argument,
              "kafka log property bootstrap.servers: give the brokers in "
              "kafka_log_options::brokers"};
  }
  return {};
}

// Reads the topic's partition count with `rk`'s metadata.
result<std::int32_t> read_partition_count(rd_kafka_t* rk,
                                          rd_kafka_topic_t* rkt,
                                          const std::string& topic,
                                          std::chrono::milliseconds wait) {
  auto md = topic_metadata(rk, rkt, topic, wait);
  if (!md)
    return md.error();
  auto& m = **md;
  if (m.topic_cnt != 1 || m.topics[0].err || m.topics[0].partition_cnt == 0)
    return unexpected{
        errc::not_found,
        fmt::format("log topic '{}' does not exist ({}); create it with "
                    "the cluster's partition count, replication factor "
                    "3, min.insync.replicas 2 (see cluster/README.md)",
                    topic,
                    m.topic_cnt ? rd_kafka_err2str(m.topics[0].err)
                                : "no metadata")};
  return m.topics[0].partition_cnt;
}

} // namespace

std::string kafka_log_topic(std::string_view app) {
  return fmt::format("perdure.{}.log", app);
}

status kafka_status(rd_kafka_resp_err_t err, const std::string& what) {
  auto code = err == RD_KAFKA_RESP_ERR__TIMED_OUT
                      || err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT
                      || err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT
                  ? errc::timeout
                  : errc::io;
  return {code, fmt::format("{}: {}", what, rd_kafka_err2str(err))};
}

result<metadata_ptr> topic_metadata(rd_kafka_t* rk, rd_kafka_topic_t* rkt,
                                    const std::string& topic,
                                    std::chrono::milliseconds wait) {
  auto end = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(
        rk, 0, rkt, &md, static_cast<int>(std::max<long>(left.count(), 1)));
    if (!err)
      return metadata_ptr{md, rd_kafka_metadata_destroy};
    bool away = err == RD_KAFKA_RESP_ERR__TRANSPORT
                || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
                || err == RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (!away)
      return kafka_status(err, fmt::format("metadata of log topic '{}'",
                                           topic));
    if (std::chrono::steady_clock::now() >= end)
      return unexpected{errc::timeout,
                        fmt::format("metadata of log topic '{}': no broker "
                                    "answered within {} ms (last: {})",
                                    topic, wait.count(),
                                    rd_kafka_err2str(err))};
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        left, 50ms));
  }
}

void kafka_log::impl::log(eventlog::log_level level,
                          const std::string& text) const {
  eventlog::emit(options.log, level, text);
}

status kafka_log::impl::append_error(rd_kafka_resp_err_t err,
                                     std::size_t size) const {
  switch (err) {
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    return {errc::invalid_argument,
            fmt::format("a record of {} bytes is over the size limit of log "
                        "topic '{}': message.max.bytes is {} here, and the "
                        "topic's max.message.bytes applies on the brokers "
                        "({})",
                        size, topic, max_record_bytes,
                        rd_kafka_err2str(err))};
  case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    return {errc::timeout,
            fmt::format("append to log topic '{}' not acknowledged within "
                        "message.timeout.ms",
                        topic)};
  case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
  case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    return {errc::closed,
            fmt::format("log topic '{}' closed before the append was "
                        "acknowledged",
                        topic)};
  case RD_KAFKA_RESP_ERR__FATAL: {
    char why[512] = "";
    rd_kafka_fatal_error(producer, why, sizeof why);
    return {errc::io, fmt::format("the producer of log topic '{}' failed "
                                  "for good: {}; reopen the log",
                                  topic, why)};
  }
  default:
    return kafka_status(err, fmt::format("append to log topic '{}'", topic));
  }
}

void kafka_log::impl::defer(partition_log::append_done done, status st) {
  std::lock_guard guard{deferred_mutex};
  deferred.emplace_back(std::move(done), std::move(st));
  poller_cv.notify_all();
}

void kafka_log::impl::poll_loop() {
  for (;;) {
    {
      std::unique_lock guard{deferred_mutex};
      if (stop)
        return;
      if (draining) {
        quiet = true;
        poller_cv.notify_all();
        poller_cv.wait(guard, [&] {
          return stop || (closed_done && !deferred.empty());
        });
        if (stop && deferred.empty())
          return;
      }
    }
    if (!quiet) {
      rd_kafka_poll(producer, 10);
      rd_kafka_poll(reader, 0);
    }
    run_deferred();
  }
}

void kafka_log::impl::run_deferred() {
  std::vector<std::pair<partition_log::append_done, status>> now;
  {
    std::lock_guard guard{deferred_mutex};
    now.swap(deferred);
  }
  for (auto& [done, st] : now) {
    try {
      done(std::move(st));
    } catch (const std::exception& e) {
      log(eventlog::log_level::error,
          fmt::format("kafka log append callback threw: {}", e.what()));
    }
  }
}

void kafka_log::impl::append(std::int32_t p, std::string bytes,
                             partition_log::append_done done) {
  std::shared_lock guard{gate};
  if (closed) {
    defer(std::move(done),
          {errc::closed, fmt::format("log topic '{}' is closed", topic)});
    return;
  }
  auto op = std::make_unique<pending>(pending{std::move(done)});
  for (;;) {
    if (rd_kafka_produce(producer_topic, p, RD_KAFKA_MSG_F_COPY,
                         bytes.data(), bytes.size(), nullptr, 0,
                         op.get()) == 0) {
      op.release(); // on_delivery owns it now
      return;
    }
    auto err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      defer(std::move(op->done), append_error(err, bytes.size()));
      return;
    }
    // The producer's queue is full: wait for deliveries (the poller
    // serves them), unless the log is closing.
    if (closing) {
      defer(std::move(op->done),
            {errc::closed, fmt::format("log topic '{}' is closed", topic)});
      return;
    }
    std::this_thread::sleep_for(1ms);
  }
}

void kafka_log::impl::close() {
  closing = true;
  {
    std::unique_lock guard{gate};
    if (closed)
      return;
    closed = true;
  }
  // The poller stops serving librdkafka: from here on this thread
  // serves the delivery reports, so all have run when close() returns.
  {
    std::unique_lock guard{deferred_mutex};
    draining = true;
    poller_cv.notify_all();
    poller_cv.wait(guard, [&] { return quiet; });
  }
  // Appends in flight get close_timeout to finish, then are purged: each
  // purged record's delivery report says _PURGE_*, which is closed.
  rd_kafka_flush(producer, static_cast<int>(options.close_timeout.count()));
  if (rd_kafka_outq_len(producer) > 0) {
    rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE
                                 | RD_KAFKA_PURGE_F_INFLIGHT);
    auto end = std::chrono::steady_clock::now() + 2s;
    while (rd_kafka_outq_len(producer) > 0
           && std::chrono::steady_clock::now() < end)
      rd_kafka_poll(producer, 10);
  }
  rd_kafka_poll(producer, 0);
  run_deferred();
  std::lock_guard guard{deferred_mutex};
  closed_done = true; // the poller runs later appends' answers
  poller_cv.notify_all();
}

kafka_log::impl::~impl() {
  {
    std::lock_guard guard{deferred_mutex};
    stop = true;
    poller_cv.notify_all();
  }
  if (poller.joinable())
    poller.join();
  for (auto& part : parts)
    part->stop();
  if (reader_topic)
    rd_kafka_topic_destroy(reader_topic);
  if (producer_topic)
    rd_kafka_topic_destroy(producer_topic);
  if (reader)
    rd_kafka_destroy(reader);
  if (producer)
    rd_kafka_destroy(producer);
}

result<std::unique_ptr<kafka_log>> kafka_log::open(kafka_log_options o) {
  if (auto st = check_user_properties(o); !st)
    return st;
  auto log = std::make_unique<impl>();
  log->options = std::move(o);
  log->topic = kafka_log_topic(log->options.app);
  auto& props = log->options.properties;
  auto producer = new_handle(RD_KAFKA_PRODUCER, *log, producer_defaults,
                             props);
  if (!producer)
    return producer.error();
  log->producer = *producer;
  auto reader = new_handle(RD_KAFKA_CONSUMER, *log, reader_defaults, props);
  if (!reader)
    return reader.error();
  log->reader = *reader;
  char value[64];
  std::size_t size = sizeof value;
  if (rd_kafka_conf_get(rd_kafka_conf(log->producer), "message.max.bytes",
                        value, &size) == RD_KAFKA_CONF_OK)
    log->max_record_bytes = std::strtoull(value, nullptr, 10);
  log->reader_topic = rd_kafka_topic_new(log->reader, log->topic.c_str(),
                                         nullptr);
  log->producer_topic = rd_kafka_topic_new(log->producer, log->topic.c_str(),
                                           nullptr);
  if (!log->reader_topic || !log->producer_topic)
    return kafka_status(rd_kafka_last_error(),
                        fmt::format("log topic '{}'", log->topic));
  auto count = read_partition_count(log->reader, log->reader_topic,
                                    log->topic, log->options.open_timeout);
  if (!count)
    return count.error();
  log->partitions = *count;
  for (std::int32_t p = 0; p < log->partitions; ++p)
    log->parts.push_back(std::make_unique<kafka_partition>(*log, p));
  log->poller = std::thread{[l = log.get()] { l->poll_loop(); }};
  return std::unique_ptr<kafka_log>{new kafka_log{std::move(log)}};
}

kafka_log::kafka_log(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {
}

kafka_log::~kafka_log() {
  close();
}

const std::string& kafka_log::topic() const noexcept {
  return impl_->topic;
}

std::int32_t kafka_log::partition_count() const noexcept {
  return impl_->partitions;
}

std::size_t kafka_log::max_record_bytes() const noexcept {
  return impl_->max_record_bytes;
}

partition_log& kafka_log::partition(std::int32_t p) {
  return *impl_->parts.at(static_cast<std::size_t>(p));
}

void kafka_log::close() {
  impl_->close();
}

} // namespace perdure::cluster
