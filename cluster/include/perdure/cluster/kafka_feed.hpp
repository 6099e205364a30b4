// SPDX-License-Identifier: Apache-2.0
#pragma once

// Kafka subscriptions on a cluster: a feed consumes a topic on every node
// that subscribes it and turns each record into a request through the
// node's engine_host, so the record's effect lands on the partition of its
// workflow or actor, wherever that is led:
//
//   auto f = cluster::subscribe(host, kafka_source{brokers, "orders", "g"},
//                               start_workflow(handle_order));
//
// The nodes share one Kafka consumer group (`kafka_source::group`), which
// spreads the topic's partitions over the nodes and moves them when a node
// joins, leaves or dies.
//
// Exactly once, by idempotency key (not a shared commit, as on one
// engine: the record's effect commits on its owner's partition, the offset
// in Kafka's consumer group): a batch's offsets are committed to the group
// only after every record of the batch was answered by its owner, so a
// record is delivered at least once; and every effect carries a key made
// of the record's coordinates, which the owner applies once:
//  - start_workflow: the workflow id `route(r)` +
//    "kafka/GROUP/TOPIC/PARTITION/OFFSET" (a start of a stored id is
//    left as it is, engine_host::try_start);
//  - signal_workflows: the signal's key "kafka/GROUP/TOPIC/PARTITION/
//    OFFSET" (engine_host::try_signal: found in the workflow's signals,
//    not applied again);
//  - actor_target (perdure/cluster/kafka_actors.hpp): the call's
//    idempotency key, delivery_key() (once while the key is among the
//    actor's last key_window calls: at most one batch is re-sent).
// Records of one workflow or actor are sent one at a time in partition
// order; those of different ones concurrently (feed_options::concurrency).
//
// Poison records (a decoder that throws, an unregistered step, a signal to
// an unknown or finished workflow, an actor call that fails its attempts)
// are produced to a dead-letter topic, with the reason in headers, before
// the offsets are committed. A workflow that starts and later fails is not
// a dead letter here (its owner keeps it failed: engine_host::try_list).
// While an owner cannot be reached (no owner yet, a failover longer than
// engine_host_options::forward_deadline, a full disk there) the feed
// tries the record again every retry_wait and commits nothing, so it
// neither loses nor skips a record. A host without a door
// (engine_host_options::serve_address) cannot forward: its feed waits so
// for records of partitions other nodes lead; give every node a door.
//
// The host's /metrics (engine_host::metrics()) gains, labelled by group
// and topic: perdure_kafka_feed_records_total,
// perdure_kafka_feed_dead_letters_total and, per partition assigned to
// this node, perdure_kafka_feed_lag (high watermark minus position).
//
// Library perdure_cluster_kafka (links perdure_cluster_engine and
// perdure_listeners).

#include "perdure/cluster/engine_host.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <perdure/listeners/kafka.hpp>
#include <string>

namespace perdure::cluster {

/// What one record does on the cluster: the id its effect goes to and
/// how to send it.
struct feed_action {
  /// The workflow or actor id: the actions of one target are sent one at
  /// a time, in record order.
  std::string target;
  /// Sends the effect through `host` with idempotency key `key` (1..200
  /// bytes; one per record and attempt): ok, or the owner's error.
  std::function<perdure::status(engine_host& host, const std::string& key)>
      send;
};

/// A feed's target: how a record becomes an action.
struct feed_target {
  /// Throws for a poison record (its dead letter names what it threw).
  std::function<feed_action(const kafka_record&)> make;
  /// Sends of an action that fail `errc::failed` (user code threw), each
  /// with its own key (delivery_key's "#N"), before the record is a dead
  /// letter; at least 1.
  int attempts = 1;
  /// The actions' keys are sequenced_feed_key's (an actor target: the
  /// actor applies each Kafka partition's records once, without a window),
  /// else feed_key's.
  bool sequenced = false;
};

/// How a feed runs.
struct feed_options {
  /// Where poison records go: their key, value and headers, and headers
  /// `perdure.reason`, `perdure.source` ("TOPIC/PARTITION/OFFSET"),
  /// `perdure.group` and `perdure.target` (the workflow or actor id, when
  /// the record got that far). Produced idempotently with acks=all through
  /// the source's brokers and properties; at least once: after a crash
  /// between the produce and the offsets' commit, or a rebalance that
  /// failed the commit, a dead letter may be there twice.
  /// Empty: "<topic>.dead-letter".
  std::string dead_letter_topic = {};
  /// How many actions are sent at once (each waits for its owner's
  /// answer); at least 1.
  std::size_t concurrency = 16;
  /// start_workflow only: the start of each record's workflow id, so a
  /// record's workflow lives where the records' entity does (with routing
  /// separator '/': `[](auto& r) { return r.key + "/"; }` puts it on the
  /// partition of the actor or workflow named by the record's key).
  /// Required when the host's routing has a separator: without it, every
  /// id "kafka/..." would route by "kafka", to one partition.
  std::function<std::string(const kafka_record&)> route = {};
  /// How long the feed waits before it tries a record again whose owner
  /// could not be reached (busy, timeout, closed, io, full, ...).
  std::chrono::milliseconds retry_wait{1000};
  /// Where the feed reports (librdkafka's lines, retries, rebalances).
  /// Empty: stderr.
  eventlog::log_sink log = {};
};

/// A running feed on one node. Thread-safe.
class feed {
 public:
  struct impl;
  explicit feed(std::unique_ptr<impl> p);
  /// stop().
  ~feed();
  feed(const feed&) = delete;
  feed& operator=(const feed&) = delete;

  /// records: committed to the group (consumed); started: actions the
  /// owners answered ok (applied now or earlier); dead_letters: produced
  /// to the dead-letter topic; commits: offset commits.
  subscription_stats stats() const;
  /// The last error met (an owner not reachable, a failed commit), empty
  /// when none.
  std::string last_error() const;
  /// The topic's partitions this node consumes now (the group's
  /// assignment), ascending.
  std::vector<std::int32_t> assigned() const;
  /// Stops consuming and leaves the group (its partitions move to the
  /// other nodes). A batch not answered yet is not committed: the node
  /// that takes the partition sends it again, and the keys make it
  /// once. Stop feeds before their engine_host. Idempotent.
  void stop();

 private:
  std::unique_ptr<impl> impl_;
};

/// The feed target of `target` (engine::subscribe's start_workflow):
/// workflow id `route(r)` + "kafka/GROUP/TOPIC/PARTITION/OFFSET", started
/// through engine_host::try_start. Throws invalid_argument when the host
/// routes by a separator and `o.route` is empty.
feed_target workflow_target(const engine_host& host, const kafka_source& src,
                            record_workflow target, const feed_options& o);

/// The feed target of `target` (signal_workflows): the record's signal
/// sent through engine_host::signal_bytes keyed by the record.
feed_target signal_target(record_signal target);

/// Starts a feed of `src` into `target` on `host` (which must outlive
/// it). Errors: invalid_argument for a bad source, option or property
/// (check(src)), those of librdkafka's consumer or producer.
result<std::unique_ptr<feed>> subscribe(engine_host& host, kafka_source src,
                                        feed_target target,
                                        feed_options o = {});

/// subscribe with workflow_target: one workflow per record.
result<std::unique_ptr<feed>> subscribe(engine_host& host, kafka_source src,
                                        record_workflow target,
                                        feed_options o = {});

/// subscribe with signal_target: one signal per record.
result<std::unique_ptr<feed>> subscribe(engine_host& host, kafka_source src,
                                        record_signal target,
                                        feed_options o = {});

/// The dead-letter topic of a feed of `src` with options `o`.
std::string dead_letter_topic(const kafka_source& src, const feed_options& o);

/// The idempotency key of record `r`'s action at `attempt` (1-based):
/// delivery_key(src, r, attempt) when it fits 200 bytes, else the same
/// with group and topic replaced by a hash of both.
std::string feed_key(const kafka_source& src, const kafka_record& r,
                     int attempt);

/// The idempotency key of record `r`'s action at `attempt` for an actor
/// (actor_records::source_key): seq offset × 256 + attempt from source
/// "kafka/GROUP/TOPIC/PARTITION" (over 200 bytes: "kafka#HASH/PARTITION",
/// HASH of group and topic). The actor keeps the highest seq it applied
/// from each source and skips a record at or below it however many calls
/// it took since, so a record sent again (by a consumer that was paused
/// past its session timeout, or after a crash before the commit) is
/// applied once. feed_key's for an attempt over 255 or an offset of 2^55
/// or more.
std::string sequenced_feed_key(const kafka_source& src, const kafka_record& r,
                               int attempt);

} // namespace perdure::cluster
