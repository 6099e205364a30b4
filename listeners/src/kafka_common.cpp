// librdkafka helpers shared by subscriptions and the Kafka event source.

#include "kafka_common.hpp"

#include "perdure/runtime/errors.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace perdure::detail {

bool is_secret_property(std::string_view key) {
  return key.find("password") != std::string_view::npos
         || key.find("secret") != std::string_view::npos
         || key == "ssl.key.pem" || key == "sasl.oauthbearer.config";
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
    if (rd_kafka_conf_set(conf, k.c_str(), value->c_str(), err, sizeof err)
        != RD_KAFKA_CONF_OK)
      // A secret's value never reaches an error message (which may be
      // logged as a step's failure).
      return {errc::invalid_argument,
              fmt::format("kafka property '{}'='{}': {}", k,
                          is_secret_property(k) ? "<secret>" : v, err)};
  }
  return {};
}


rd_kafka_t* new_kafka_consumer(const kafka_source& src) {
  auto conf = rd_kafka_conf_new();
  std::map<std::string, std::string> props{
      {"bootstrap.servers", src.brokers}, {"group.id", src.group},
      {"enable.auto.commit", "false"},    {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},  {"enable.partition.eof", "false"},
      // librdkafka's default: a partition queue holding fewer records makes
    // a fast consumer idle between fetches (20000 capped a no-op
    // subscription at 32,000 records/s on the mock cluster).
    {"queued.min.messages", "100000"},   {"fetch.wait.max.ms", "10"},
  };
  for (auto& [k, v] : src.properties)
    props[k] = v;
  if (auto st = set_kafka_properties(conf, props); !st) {
    rd_kafka_conf_destroy(conf);
    ok_or_throw(st);
  }
  char err[512];
  auto rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    ok_or_throw(
        status{errc::invalid_argument, fmt::format("kafka consumer: {}", err)});
  }
  rd_kafka_poll_set_consumer(rk);
  return rk;
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
