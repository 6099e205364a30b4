// SPDX-License-Identifier: Apache-2.0
#pragma once

// One node of a perdure cluster: the Kafka log, one partition_owner with
// its own LMDB store per partition of the log, and a Kafka consumer group
// membership that decides which partitions this node should own. The
// group only assigns: the node claims what it is assigned and releases
// what is revoked, and the log's claim records decide who owns (fencing.hpp).
// Partitions not assigned are tailed as standbys into their own stores
// (every node, or node_options::standby_replicas of them).
// One poll thread per node serves the group, the submissions and every
// owner in turn, so acks, reads and applies of a partition stay on it.

#include "perdure/cluster/kafka_log.hpp"
#include "perdure/cluster/lmdb_replica_store.hpp"
#include "perdure/cluster/partition_owner.hpp"
#include "perdure/eventlog/log_sink.hpp"
#include "perdure/eventlog/types.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace perdure::cluster {

/// A partition store's options: durability::process, a 1 MiB map to
/// start with (it grows); `dir` is the root of the node's stores.
eventlog::options default_node_store();

/// One partition as a node sees it.
struct partition_status {
  partition_id partition = 0;
  /// The group assigned it to this node (the node wants to own it).
  bool assigned = false;
  /// This node's role (leader only once its own claim was read back).
  owner_role role = owner_role::follower;
  /// The epoch in force in this node's store and its owner, as the log
  /// says (no_epoch and empty before any claim).
  log_offset epoch = no_epoch;
  node_identity owner;
  /// Where the owner's door listens, from its claim (empty: none, or a
  /// claim written before claims carried endpoints).
  std::string owner_endpoint = {};
  /// The offset after the last record applied in this node's store.
  log_offset next = 0;
  /// The log's end offset as last learnt from fetching (none until a
  /// fetch answer came): log_end - next is how far this store's apply is
  /// behind the log (the apply lag).
  std::optional<log_offset> log_end;
  /// Groups submitted here and not yet decided.
  std::size_t pending = 0;
  /// Whether this node applies the partition's records into its store: it
  /// leads, claims or catches up, or it is one of the partition's
  /// standbys (node_options::standby_replicas). Not tailing, it reads only
  /// the claims (epoch, owner and endpoint above stay current) and `next`
  /// stays where applying stopped.
  bool tailing = true;
};

/// What a node did since it started (for metrics), summed over its
/// partitions where that applies.
struct node_counters {
  std::uint64_t assigned = 0;      ///< partitions assigned by the group
  std::uint64_t revoked = 0;       ///< partitions revoked by the group
  std::uint64_t poll_errors = 0;   ///< failed polls of an owner (retried)
  std::uint64_t submitted = 0;     ///< groups submit() accepted
  owner_counters owners;           ///< the partition owners' counters
};

/// How a node runs.
struct node_options {
  /// The Kafka log: brokers, application (topic `perdure.<app>.log`,
  /// consumer group `perdure.<app>`), librdkafka properties of the log,
  /// log sink. Its log sink is the node's too.
  kafka_log_options log;
  /// This node's id (1 .. max_node_id_size bytes); it names the node in
  /// claims and groups, and is its consumer group client.id.
  std::string node_id;
  /// Unique per process start; 0: made from the clock and the process id.
  std::uint64_t incarnation = 0;
  /// Where this node's door listens ("host:port", at most
  /// max_endpoint_size bytes), written in its claims so other nodes can
  /// forward requests to it; empty: none (engine_host sets it from its
  /// serve_address).
  std::string endpoint = {};
  /// Each partition's store is `store.dir / "p-NNNN"` (NNNN = the
  /// partition, 4 digits at least). Mode defaults to durability::process:
  /// the log is the durability, a store can be rebuilt from it. The
  /// replicator is the node's (set: invalid_argument).
  eventlog::options store = default_node_store();
  /// librdkafka properties of the group consumer (session.timeout.ms,
  /// heartbeat.interval.ms, security). group.id, enable.auto.commit and
  /// partition.assignment.strategy are the node's: invalid_argument.
  /// max.poll.interval.ms (the rebalance timeout, and how long a join
  /// waits for the coordinator's answer) defaults to twice the session
  /// timeout, at least 15 s, instead of librdkafka's 300 s.
  std::map<std::string, std::string> group_properties;
  /// What the log topic must fit (kafka_topic_problems), checked by
  /// start() before anything else uses the log: a topic that falls short
  /// fails start with invalid_argument naming every problem. The default
  /// is a production cluster's (3 replicas, min.insync.replicas 2,
  /// unlimited retention, unclean leader election off) with configs
  /// verified when the brokers describe them. nullopt: not checked.
  std::optional<kafka_durability_needs> topic_needs =
    kafka_durability_needs{.require_configs = false};
  /// How long start() waits for the topic's configs (DescribeConfigs; a
  /// broker that does not answer it, like librdkafka's mock, costs all
  /// of it); 0: not asked, only the partitions and replication (metadata)
  /// are checked.
  std::chrono::milliseconds topic_configs_wait{5000};
  /// How many nodes besides its owner keep each partition's store at the
  /// log's end (standbys), so that a failover claim costs no replay. The
  /// standbys of a partition are the nodes ranked first for it by the
  /// rendezvous hashing that picks a gone owner's successor
  /// (standby_partitions in takeover.hpp), among the nodes that own a
  /// partition: that successor is the first standby. A node that is no
  /// standby of a partition reads only its claims (who owns it, where)
  /// and applies what it skipped when it is asked to claim: a catch-up
  /// that replays the records since it stopped applying. nullopt: every
  /// node applies every partition (a failover never replays; every node
  /// spends the CPU and disk of every partition's writes).
  std::optional<std::size_t> standby_replicas;
  /// Records read per partition and poll.
  std::size_t read_batch = 512;
  /// How long the poll thread sleeps when a round found nothing to do (a
  /// submit, and a record fetched from the log, wake it at once).
  std::chrono::milliseconds idle_wait{1};
  /// A partition catching up or claiming for longer than this is reported
  /// once on the log sink (warning, with its replica's position and the
  /// log's end): a claim not read back is a stalled handover. 0: never.
  std::chrono::milliseconds claim_warn{10'000};
  /// Called on the poll thread when a partition's role, epoch or
  /// assignment changed (after the change). It must be quick; it may call
  /// submit(), never stop().
  std::function<void(const partition_status&)> on_change;
};

/// One running node. Thread-safe: submit(), partition_count(),
/// partitions() and counters() may be called from any thread; stop() from
/// any but the poll thread.
class node {
 public:
  /// Told the fate of a group (partition_owner::group_done): its offset
  /// once applied in this node's store; busy when this node does not
  /// own the partition (the message names the owner) or a newer claim
  /// came first (never applied; worth making again on the owner); io
  /// when the log lost it; closed when the node released the partition or
  /// stopped first (the group may still take effect).
  using group_done = partition_owner::group_done;

  /// Opens the log (the topic must exist), every partition's store, joins
  /// the consumer group and starts the poll thread. Errors: invalid_argument
  /// (bad node id, options or properties), those of kafka_log::open and of
  /// the stores.
  static result<std::unique_ptr<node>> start(node_options options);

  /// stop().
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// This process: node id and incarnation.
  const node_identity& self() const noexcept;

  /// The log's partition count (after stop() too).
  std::int32_t partition_count() const noexcept;

  /// Submits `bytes` (a group commit in the journal's encoding,
  /// encode_group_bytes) as a group of partition `p`. `done` is called
  /// once: on the poll thread with the offset once the group was read
  /// back and applied here, or with its error; or before submit returns
  /// with invalid_argument (no such partition, empty bytes) or closed
  /// (the node stopped).
  void submit(partition_id p, std::string bytes, group_done done);
  /// Partition `p`'s store on this node: the event_log an engine of the
  /// partition reads and writes. Reads see what this node applied (as
  /// owner or standby). Its writes are replicated (eventlog::options::
  /// replicator): each group is submitted as by submit() and completes
  /// once read back from the log and applied here, with the per-batch
  /// results of that apply; busy while another node owns the
  /// partition (or this one is still claiming), io when the log lost it,
  /// closed when the node stopped first (the group may still take
  /// effect). stop() closes it (later writes fail closed, reads keep
  /// working while it is held). Null for no such partition or after
  /// stop().
  std::shared_ptr<eventlog::event_log> store(partition_id p);

  /// Every partition, as of the last poll round.
  std::vector<partition_status> partitions() const;

  /// The counters as of the last poll round (submitted: now).
  node_counters counters() const;

  /// Claims partition `p` from the claim at epoch `over` now, although the
  /// group did not assign it here (a failure detector learnt that the
  /// process of `over`'s claimant is gone: partitions_to_take_over):
  /// catch up to the log's end, then claim only if `over` is still the
  /// epoch in force (partition_owner::claim(over): a stale view takes
  /// nothing from a newer owner), lead once the claim is read back. The
  /// group's next assignment still decides: a node assigned `p` claims
  /// after this one, and this node serves `p` until that claim is read. A
  /// no-op while leading or claiming, for no such partition, and after
  /// stop_claiming(), leave() or stop().
  void take_over(partition_id p, log_offset over);

  /// Claims nothing more (neither take-overs nor the partitions the group
  /// assigns, even one whose claim fenced this node's), staying a member
  /// of the group and leading what it leads until another node's claim of
  /// each is read: a handover to nodes that take the partitions over
  /// (engine_host::stop, its watchers), which leave() would hold up while
  /// it closes the consumer (the poll thread reads the claims). leave() or
  /// stop() follows. Idempotent.
  void stop_claiming();

  /// Leaves the consumer group and goes on leading the partitions this
  /// node leads until another node's claim of each is read: the group
  /// assigns them to the others at once (not after session.timeout.ms),
  /// and each stays served here until its new owner has caught up and
  /// claimed it (a handover without a gap but that claim). Submissions
  /// keep working meanwhile. stop() ends it. Idempotent; no-op after stop.
  void leave();

  /// Leaves the consumer group (every owner releases: others can claim at
  /// once instead of after session.timeout.ms; after leave(), partitions
  /// not yet claimed elsewhere stop being served here), stops
  /// the poll thread, fails submissions not yet handed to an owner with
  /// closed, closes the log and the stores. Idempotent.
  void stop();

  struct impl;

 private:
  explicit node(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

/// The store directory of partition `p` under `root`: root / "p-0007".
std::filesystem::path partition_dir(const std::filesystem::path& root,
                                    partition_id p);

} // namespace perdure::cluster
