// SPDX-License-Identifier: Apache-2.0
#pragma once

// Kafka subscriptions: `eng.subscribe(kafka_source{...},
// start_workflow(step))` starts one workflow per record. The record's
// workflow submission and the consumed offset commit in the same LMDB
// transaction (many records per commit), consumption resumes from the
// stored offsets after a restart (assign() at them; the broker-side commit
// is advisory), and poison records go to a dead-letter stream. librdkafka
// is private to the module: nothing of it appears here.

#include "perdure/runtime/engine.hpp"
#include "perdure/runtime/step.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace perdure {

/// Where records come from. Any librdkafka property (TLS, SASL, timeouts,
/// ...) passes through `properties`; an unknown property (names are
/// librdkafka's, lower case) or a bad value is an `invalid_argument` error
/// naming the property and never printing its value. A value "env:NAME" is
/// read from environment variable NAME when the consumer starts, which
/// keeps secrets out of code and out of the log: pass every secret that way.
/// The properties librdkafka flags as sensitive (`sasl.username`,
/// `sasl.password`, `ssl.key.password`, `ssl.key.pem`, `ssl.key.location`,
/// `ssl.keystore.password`, `ssl.ca.pem`, `sasl.oauthbearer.config`, the
/// OAUTHBEARER client secret and assertion keys) must be given so in a
/// logged source (see kafka_listener).
struct kafka_source {
  std::string brokers = {};        ///< bootstrap.servers
  std::string topic = {};
  std::string group = "perdure";   ///< group.id; also keys the offsets
  std::map<std::string, std::string> properties = {};
  std::size_t max_batch = 2000;    ///< most records in one commit
  /// How long the consumer waits for more records before it commits a
  /// partial batch.
  std::chrono::milliseconds poll_timeout{20};
};

// What a `wait_for_event<kafka_listener>` node logs as its input: where to
// consume (not `max_batch`/`poll_timeout`, which only subscriptions use).
PERDURE_FIELDS(kafka_source, brokers, topic, group, properties)

/// One consumed record: the event of a Kafka subscription or of a
/// `wait_for_event<kafka_listener>(source)` node.
struct kafka_record {
  std::string topic = {};
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp = 0; ///< ms since the epoch (0 when absent)
  std::string key;            ///< empty when the record has no key
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};
PERDURE_FIELDS(kafka_record, topic, partition, offset, timestamp, key, value,
               headers)

/// The listener of `wait_for_event<kafka_listener>(source)`: a graph node
/// whose output is the next record of `source.topic` for consumer group
/// `source.group` (source: a `kafka_source` or a `workflow<kafka_source>`).
///
/// Exactly once: the record's next offset is written in the same LMDB
/// transaction as the node's event; a restart consumes from the stored
/// offsets (the broker-side commit is advisory). Waits of one group and
/// topic share one consumer and get distinct records, FIFO in the order
/// they were armed; a partition's next record is handed out only after the
/// previous one is durable, so the stored offset never skips a record.
/// The source is logged as the node's input, so it is validated first (an
/// unknown or bad property is refused before anything is logged), and a
/// property librdkafka flags as sensitive must be given as "env:NAME": a
/// literal one is refused with `invalid_argument` (and again when the node
/// runs, for a source built by a step — a step's output is logged, so a
/// step must not build a source holding a literal secret either).
/// `engine::metrics()` has the gauge `perdure_kafka_waits{group,topic}`:
/// the waits armed and not yet handed a record (a canceled one counts
/// until the consumer's next pass).
struct kafka_listener {
  using event_type = kafka_record;
  using params = detail::type_list<kafka_source>;
  static constexpr const char* name = "perdure.kafka";
  /// Throws `invalid_argument` for a bad source or property, or a literal
  /// sensitive value in `src.properties`.
  static void check_input(const kafka_source& src);
  /// The registered event node definition.
  static std::shared_ptr<const detail::step_def> event_def();
};

/// A record moved to the dead-letter stream, with why.
struct dead_letter {
  std::string topic = {};
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
  std::string reason;   ///< the decode error or the workflow's failure
  std::string workflow; ///< the failed workflow's id (empty: undecodable,
                        ///< or a `deliver_to` call: `reason` names the actor)
};
PERDURE_FIELDS(dead_letter, topic, partition, offset, key, value, reason,
               workflow)

/// Figures of a running subscription.
struct subscription_stats {
  std::uint64_t records = 0;      ///< records taken (committed with offsets)
  std::uint64_t started = 0;      ///< workflows started / calls applied
  std::uint64_t dead_letters = 0; ///< poison records
  std::uint64_t commits = 0;      ///< batches committed
};

/// A running subscription; stops with its engine or with stop().
class subscription {
 public:
  struct impl;
  explicit subscription(std::shared_ptr<impl> p) : impl_(std::move(p)) {
  }
  subscription_stats stats() const;
  /// The last consumer error, if any (e.g. broker unreachable).
  std::string last_error() const;
  /// Stops consuming; records not committed yet are consumed again by the
  /// next subscription (nothing is lost).
  void stop();

 private:
  std::shared_ptr<impl> impl_;
};

/// The target of `start_workflow`: builds the graph of one record; throws
/// for a poison record.
struct record_workflow {
  std::function<std::shared_ptr<detail::node>(const kafka_record&)> make;
};

/// Starts `s(record)` per record; its workflow id is
/// "kafka/GROUP/TOPIC/PARTITION/OFFSET".
template <class T>
record_workflow start_workflow(const step_handle<T, kafka_record>& s) {
  return {[s](const kafka_record& r) { return s(r).node(); }};
}

/// Starts `s(decode(record))` per record; a `decode` that throws makes the
/// record poison (dead letter, consumption goes on).
template <class T, class P, class Decode>
record_workflow start_workflow(const step_handle<T, P>& s, Decode decode) {
  return {[s, decode](const kafka_record& r) { return s(decode(r)).node(); }};
}

/// The target of `signal_workflows`: the signal one record carries.
struct record_signal {
  struct signal {
    std::string workflow; ///< the workflow it goes to
    std::string name;     ///< the signal's name
    std::string value;    ///< encoded (codec)
  };
  /// Throws for a poison record.
  std::function<signal(const kafka_record&)> make;
};

/// Sends signal `name` per record to a running workflow, for its
/// `wait_for_signal<T>(name)` nodes: `decode(record)` returns the
/// workflow id and the value (a `std::pair<std::string, T>`). The signals
/// and the consumed offsets commit in one transaction, so each record's
/// signal is stored exactly once across crashes; its sender is
/// "kafka/GROUP/TOPIC/PARTITION/OFFSET". A record whose decoder throws, or
/// whose workflow is unknown, finished or canceled, goes to the
/// dead-letter stream with the reason (and the workflow id).
template <class Decode>
record_signal signal_workflows(std::string name, Decode decode) {
  return {[name, decode](const kafka_record& r) {
    auto [id, value] = decode(r);
    return record_signal::signal{std::string{std::move(id)}, name,
                                 detail::encode_value(value)};
  }};
}

/// The target of `deliver_to` (perdure/listeners/kafka_actors.hpp): one
/// asynchronous call per record, in partition order. Exactly-once rests on
/// the call's idempotency key (see `delivery_key`), not on a shared commit:
/// a batch's offsets advance, in a later commit, only once every call of
/// the batch is durable; the next batch's calls run meanwhile.
struct record_delivery {
  /// The outcome of one started call: waits, then ok or the call's error.
  using waiter = std::function<status()>;
  /// Decodes `r` (throws: a poison record) and starts its call with
  /// idempotency key `key` on the actor of `r`.
  std::function<waiter(engine& eng, const kafka_record& r,
                       const std::string& key)>
    start;
  /// One record of a group given to `start_group`.
  struct item {
    const kafka_record* record = nullptr;
    std::string key; ///< the idempotency key of its call
    waiter wait;     ///< set by start_group: the call's outcome
    std::string poison; ///< or set by start_group: why it could not decode
  };
  /// Optional: starts the calls of records that share one Kafka key (so
  /// one actor), in the items' order, at once: each item gets its `wait`,
  /// or its `poison` when it could not be decoded. Unset: `start` per
  /// record.
  std::function<void(engine& eng, std::vector<item>& items)> start_group =
    {};
  /// Attempts of a record whose method throws (`errc::failed`) before it
  /// goes to the dead-letter stream; at least 1.
  int attempts = 3;
};

/// The idempotency key of `r`'s call at `attempt` (1-based):
/// "kafka/GROUP/TOPIC/PARTITION/OFFSET", with "#N" appended for N > 1.
std::string delivery_key(const kafka_source& src, const kafka_record& r,
                         int attempt);

/// Ok, or `invalid_argument` naming the first bad field or property.
status check(const kafka_source& src);

/// The prefix of a property value read from the environment: "env:NAME".
inline constexpr std::string_view env_prefix = "env:";

/// Ok, or `invalid_argument` naming a property librdkafka flags as
/// sensitive given literally (a source logged as a node's input must read
/// it from "env:NAME").
status check_loggable(const kafka_source& src);

/// Subscribes; throws `perdure::error` for invalid options. Used by
/// `engine::subscribe`.
subscription perdure_subscribe(engine& eng, const kafka_source& src,
                               record_workflow target);

/// Subscribes a `deliver_to` target; throws `perdure::error` for invalid
/// options. Used by `engine::subscribe`.
subscription perdure_subscribe(engine& eng, const kafka_source& src,
                               record_delivery target);

/// Subscribes a `signal_workflows` target; throws `perdure::error` for
/// invalid options. Used by `engine::subscribe`.
subscription perdure_subscribe(engine& eng, const kafka_source& src,
                               record_signal target);

/// The dead-letter stream id of `src`: "dead_letter/GROUP/TOPIC".
std::string dead_letter_stream(const kafka_source& src);

/// The records of `src` moved to its dead-letter stream, oldest first.
result<std::vector<dead_letter>> dead_letters(const engine& eng,
                                              const kafka_source& src);

/// The offset key of a partition: "kafka/GROUP/TOPIC/PARTITION".
std::string offset_key(const kafka_source& src, std::int32_t partition);

// -- test and sample support ---------------------------------------------------

/// librdkafka's mock cluster on 127.0.0.1, in this process. Topics are
/// created directly in the mock (its CreateTopics request times out).
class kafka_mock_cluster {
 public:
  /// Throws `perdure::error` when the cluster cannot start.
  explicit kafka_mock_cluster(int brokers = 1);
  ~kafka_mock_cluster();
  kafka_mock_cluster(const kafka_mock_cluster&) = delete;
  kafka_mock_cluster& operator=(const kafka_mock_cluster&) = delete;
  /// "127.0.0.1:PORT,..."
  const std::string& bootstrap() const noexcept;
  status create_topic(const std::string& topic, int partitions);
  /// A topic whose partitions have `replication` replicas each (at most
  /// the broker count); the mock keeps one copy of the data whatever the
  /// replication factor, which only shows in the topic's metadata.
  status create_topic(const std::string& topic, int partitions,
                      int replication);
  /// Brokers are numbered 1..brokers. A broker set down closes its
  /// connections and refuses new ones, keeping its port; its partitions
  /// keep it as their leader (the mock does not fail over: move them with
  /// set_partition_leader). not_found for an unknown broker.
  status set_broker_up(std::int32_t broker, bool up);
  /// Makes `broker` the leader of `partition` of `topic` (the mock creates
  /// a topic it does not know, as it does for a client's metadata request).
  status set_partition_leader(const std::string& topic,
                              std::int32_t partition, std::int32_t broker);
  /// Delays every response of `broker` by `rtt_ms` (0: none).
  status set_broker_rtt(std::int32_t broker, int rtt_ms);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A small producer for tests and samples.
class kafka_producer {
 public:
  /// Throws `perdure::error` for bad properties.
  explicit kafka_producer(const std::string& brokers,
                          std::map<std::string, std::string> properties = {});
  ~kafka_producer();
  kafka_producer(const kafka_producer&) = delete;
  kafka_producer& operator=(const kafka_producer&) = delete;
  /// Queues a record (partition -1: by key hash).
  status produce(const std::string& topic, const std::string& key,
                 const std::string& value, std::int32_t partition = -1);
  /// Waits until every queued record is acknowledged; `timeout` on expiry.
  status flush(std::chrono::milliseconds timeout = std::chrono::seconds{30});

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace perdure
