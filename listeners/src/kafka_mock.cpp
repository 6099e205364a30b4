// SPDX-License-Identifier: Apache-2.0
// librdkafka's mock cluster (rdkafka_mock.h) on 127.0.0.1 and a small
// producer, for tests, samples and perdure-mock-kafka.

#include "kafka_common.hpp"
#include "perdure/listeners/kafka.hpp"

#include "perdure/runtime/errors.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <fmt/format.h>

namespace perdure {

// -- mock cluster ------------------------------------------------------------------

struct kafka_mock_cluster::impl {
  rd_kafka_t* rk = nullptr; ///< hosts the mock cluster's threads
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::string bootstrap;
};

kafka_mock_cluster::kafka_mock_cluster(int brokers)
  : impl_(std::make_unique<impl>()) {
  char err[512];
  auto conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  impl_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!impl_->rk) {
    rd_kafka_conf_destroy(conf);
    throw_error({errc::io, fmt::format("kafka mock host: {}", err)});
  }
  impl_->cluster = rd_kafka_mock_cluster_new(impl_->rk, brokers);
  if (!impl_->cluster) {
    rd_kafka_destroy(impl_->rk);
    throw_error({errc::io, "rd_kafka_mock_cluster_new failed"});
  }
  impl_->bootstrap = rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

kafka_mock_cluster::~kafka_mock_cluster() {
  rd_kafka_mock_cluster_destroy(impl_->cluster);
  rd_kafka_destroy(impl_->rk);
}

const std::string& kafka_mock_cluster::bootstrap() const noexcept {
  return impl_->bootstrap;
}

status kafka_mock_cluster::create_topic(const std::string& topic,
                                        int partitions) {
  auto err = rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(),
                                        partitions, 1);
  if (err)
    return {errc::io, fmt::format("mock topic '{}': {}", topic,
                                  rd_kafka_err2str(err))};
  return {};
}

status kafka_mock_cluster::create_topic(const std::string& topic,
                                        int partitions, int replication) {
  auto err = rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(),
                                        partitions, replication);
  if (err)
    return {errc::io, fmt::format("mock topic '{}' ({} partitions, "
                                  "replication {}): {}",
                                  topic, partitions, replication,
                                  rd_kafka_err2str(err))};
  return {};
}

namespace {

status mock_result(rd_kafka_resp_err_t err, std::string what) {
  if (!err)
    return {};
  auto code = err == RD_KAFKA_RESP_ERR__UNKNOWN_BROKER
                  || err == RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE
                  || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                ? errc::not_found
                : errc::io;
  return {code, fmt::format("{}: {}", what, rd_kafka_err2str(err))};
}

} // namespace

status kafka_mock_cluster::set_broker_up(std::int32_t broker, bool up) {
  auto err = up ? rd_kafka_mock_broker_set_up(impl_->cluster, broker)
                : rd_kafka_mock_broker_set_down(impl_->cluster, broker);
  return mock_result(err, fmt::format("mock broker {} {}", broker,
                                      up ? "up" : "down"));
}

status kafka_mock_cluster::set_partition_leader(const std::string& topic,
                                                std::int32_t partition,
                                                std::int32_t broker) {
  auto err = rd_kafka_mock_partition_set_leader(
      impl_->cluster, topic.c_str(), partition, broker);
  return mock_result(err, fmt::format("mock leader of '{}' [{}] to broker {}",
                                      topic, partition, broker));
}

status kafka_mock_cluster::set_broker_rtt(std::int32_t broker, int rtt_ms) {
  auto err = rd_kafka_mock_broker_set_rtt(impl_->cluster, broker, rtt_ms);
  return mock_result(err, fmt::format("mock broker {} rtt {} ms", broker,
                                      rtt_ms));
}

// -- producer ----------------------------------------------------------------------

struct kafka_producer::impl {
  rd_kafka_t* rk = nullptr;
};

kafka_producer::kafka_producer(const std::string& brokers,
                               std::map<std::string, std::string> properties)
  : impl_(std::make_unique<impl>()) {
  char err[512];
  auto conf = rd_kafka_conf_new();
  properties.emplace("bootstrap.servers", brokers);
  properties.emplace("linger.ms", "5");
  properties.emplace("queue.buffering.max.messages", "1000000");
  if (auto st = detail::set_kafka_properties(conf, properties); !st) {
    rd_kafka_conf_destroy(conf);
    throw_error(st);
  }
  impl_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!impl_->rk) {
    rd_kafka_conf_destroy(conf);
    throw_error({errc::invalid_argument, fmt::format("kafka producer: {}",
                                                     err)});
  }
}

kafka_producer::~kafka_producer() {
  rd_kafka_flush(impl_->rk, 5000);
  rd_kafka_destroy(impl_->rk);
}

status kafka_producer::produce(const std::string& topic,
                               const std::string& key,
                               const std::string& value,
                               std::int32_t partition) {
  for (;;) {
    auto err = rd_kafka_producev(
      impl_->rk, RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
      RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(impl_->rk, 10);
      continue;
    }
    rd_kafka_poll(impl_->rk, 0);
    if (err)
      return {errc::io, fmt::format("kafka produce to '{}': {}", topic,
                                    rd_kafka_err2str(err))};
    return {};
  }
}

status kafka_producer::flush(std::chrono::milliseconds timeout) {
  auto err = rd_kafka_flush(impl_->rk, static_cast<int>(timeout.count()));
  if (err)
    return {errc::timeout, fmt::format("kafka flush: {}",
                                       rd_kafka_err2str(err))};
  return {};
}

} // namespace perdure
