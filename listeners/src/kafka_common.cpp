// SPDX-License-Identifier: Apache-2.0
// librdkafka helpers shared by subscriptions and the Kafka event source.

#include "kafka_common.hpp"

#include "perdure/runtime/errors.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace perdure::detail {

namespace {

// The properties librdkafka itself flags as sensitive (_RK_SENSITIVE in
// its src/rdkafka_conf.c, from v2.0.2, the Debian 12 build, up to its
// current releases, which added the OAUTHBEARER assertion and client
// secret properties): librdkafka redacts their values in its own debug
// dumps. No public librdkafka call exposes the flag, so the names are
// kept here; a property librdkafka does not know never gets this far
// (validation refuses it before anything is logged).
constexpr std::string_view sensitive_properties[] = {
  "sasl.oauthbearer.assertion.private.key.file",
  "sasl.oauthbearer.assertion.private.key.passphrase",
  "sasl.oauthbearer.assertion.private.key.pem",
  "sasl.oauthbearer.client.secret",
  "sasl.oauthbearer.config",
  "sasl.password",
  "sasl.username",
  "ssl.ca.pem",
  "ssl.key.location",
  "ssl.key.password",
  "ssl.key.pem",
  "ssl.keystore.password",
};

// `text` with every occurrence of `value` replaced (librdkafka's messages
// quote a rejected value).
std::string without(std::string text, std::string_view value) {
  if (value.empty())
    return text;
  for (auto at = text.find(value); at != std::string::npos;
       at = text.find(value, at))
    text.replace(at, value.size(), "<value hidden>");
  return text;
}

} // namespace

bool is_secret_property(std::string_view key) {
  for (auto name : sensitive_properties)
    if (key == name)
      return true;
  return false;
}

result<std::string> property_value(std::string_view key,
                                   const std::string& value) {
  if (!value.starts_with(env_prefix))
    return value;
  auto name = value.substr(env_prefix.size());
  const char* found = name.empty() ? nullptr : std::getenv(name.c_str());
  if (!found)
    return unexpected{errc::invalid_argument,
                      fmt::format("kafka property '{}' names environment "
                                  "variable '{}', which is not set",
                                  key, name)};
  return std::string{found};
}

status set_kafka_properties(rd_kafka_conf_t* conf,
                            const std::map<std::string, std::string>& props) {
  char err[512];
  for (auto& [k, v] : props) {
    auto value = property_value(k, v);
    if (!value)
      return value.error();
    auto rc = rd_kafka_conf_set(conf, k.c_str(), value->c_str(), err,
                                sizeof err);
    if (rc == RD_KAFKA_CONF_UNKNOWN)
      return {errc::invalid_argument,
              fmt::format("kafka property '{}' is not a property of "
                          "librdkafka {} (names are lower case; see its "
                          "CONFIGURATION.md)",
                          k, rd_kafka_version_str())};
    // No value reaches an error message (which may be logged as a step's
    // failure or printed by the CLI): not the one given, not the one read
    // from the environment, not as quoted by librdkafka.
    if (rc != RD_KAFKA_CONF_OK)
      return {errc::invalid_argument,
              fmt::format("kafka property '{}': {}", k,
                          without(without(err, *value), v))};
  }
  return {};
}


namespace {

// librdkafka's log lines (syslog levels) go to the engine's log sink, the
// conf's opaque: librdkafka never writes to stderr on perdure's behalf.
void forward_kafka_log(const rd_kafka_t* rk, int level, const char* facility,
                       const char* line) {
  auto* sink = static_cast<const eventlog::log_sink*>(rd_kafka_opaque(rk));
  auto lvl = level <= 3   ? eventlog::log_level::error
             : level == 4 ? eventlog::log_level::warning
             : level <= 6 ? eventlog::log_level::info
                          : eventlog::log_level::debug;
  auto text = fmt::format("kafka {} {}: {}", rd_kafka_name(rk), facility, line);
  eventlog::emit(sink ? *sink : eventlog::log_sink{}, lvl, text);
}

// A client of `type` with `defaults` overridden by `props`; `conf` (its
// log forwarding set here) is taken, also on failure. Throws
// invalid_argument for a bad property.
rd_kafka_t* new_kafka_client(rd_kafka_type_t type, rd_kafka_conf_t* conf,
                             std::map<std::string, std::string> defaults,
                             const std::map<std::string, std::string>& props,
                             const eventlog::log_sink& log) {
  rd_kafka_conf_set_opaque(conf, const_cast<eventlog::log_sink*>(&log));
  rd_kafka_conf_set_log_cb(conf, forward_kafka_log);
  for (auto& [k, v] : props)
    defaults[k] = v;
  if (auto st = set_kafka_properties(conf, defaults); !st) {
    rd_kafka_conf_destroy(conf);
    ok_or_throw(st);
  }
  char err[512];
  auto rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    ok_or_throw(status{errc::invalid_argument,
                       fmt::format("kafka {}: {}",
                                   type == RD_KAFKA_CONSUMER ? "consumer"
                                                             : "producer",
                                   err)});
  }
  return rk;
}

} // namespace

rd_kafka_t* new_kafka_consumer(const kafka_source& src,
                               const eventlog::log_sink& log) {
  auto rk = new_kafka_client(
    RD_KAFKA_CONSUMER, rd_kafka_conf_new(),
    {
      {"bootstrap.servers", src.brokers},
      {"group.id", src.group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "false"},
      // librdkafka's default: a partition queue holding fewer records
      // makes a fast consumer idle between fetches (20000 capped a no-op
      // subscription at 32,000 records/s on the mock cluster).
      {"queued.min.messages", "100000"},
      {"fetch.wait.max.ms", "10"},
    },
    src.properties, log);
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

rd_kafka_t* new_kafka_producer(
  const std::string& brokers, const std::map<std::string, std::string>& props,
  const eventlog::log_sink& log,
  void (*delivered)(rd_kafka_t*, const rd_kafka_message_t*, void*)) {
  auto conf = rd_kafka_conf_new();
  if (delivered)
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
  return new_kafka_client(RD_KAFKA_PRODUCER, conf,
                          {
                            {"bootstrap.servers", brokers},
                            {"enable.idempotence", "true"},
                            {"acks", "all"},
                            {"message.timeout.ms", "0"},
                          },
                          props, log);
}

kafka_record to_kafka_record(const rd_kafka_message_t* m) {
  kafka_record r;
  r.topic = rd_kafka_topic_name(m->rkt);
  r.partition = m->partition;
  r.offset = m->offset;
  rd_kafka_timestamp_type_t tt;
  auto ts = rd_kafka_message_timestamp(m, &tt);
  r.timestamp = ts < 0 ? 0 : ts;
  if (m->key)
    r.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload)
    r.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* val;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i)
      r.headers.emplace_back(
          name, val ? std::string{static_cast<const char*>(val), size}
                    : std::string{});
  }
  return r;
}

} // namespace perdure::detail
