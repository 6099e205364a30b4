// SPDX-License-Identifier: Apache-2.0
#pragma once

// A cluster node that runs an engine on every partition it leads: when the
// node's claim of partition p is read back (it leads p), the host opens an
// engine on the node's store of p (engine_options::event_log), which
// resumes p's workflows, timers and signal waits from the store; when the
// node loses p (another claim, a revocation, a stop) the host closes that
// engine. Ids map to partitions with a partition_map over the log's
// partition count, so every node and the CLI agree where an id lives.
//
// Library perdure_cluster_engine (links the cluster module and the
// runtime).

#include "perdure/cluster/node.hpp"
#include "perdure/cluster/partition_map.hpp"

#include <perdure/runtime/engine.hpp>
#include <perdure/runtime/graph_bytes.hpp>
#include <perdure/runtime/remote_workflows.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace perdure::cluster {

/// Serves a forwarded actor call on the engine of the actor's partition:
/// (engine, actor id, method name, the call's encoded request, how long
/// it may wait) -> the method's encoded result. Made by
/// served_actors<T...>() (perdure/cluster/actor_calls.hpp). Also called
/// once with an empty id when a partition's engine opens, to prepare it
/// (served_actors makes its classes known there, so the messages that
/// the partition's actors told go out: actor_ref::tell); answer ignored.
using actor_call_handler = std::function<result<std::string>(
  engine& eng, const std::string& id, const std::string& method,
  const std::string& bytes, std::chrono::milliseconds wait)>;

/// What an engine_host runs.
struct engine_host_options {
  /// The node. Its on_change, if set, is called as before (the host
  /// watches the same changes).
  node_options node;
  /// Every partition's engine is opened with a copy of these, event_log
  /// set to the partition's store; event_log, metrics_address and
  /// ui_address must be unset (invalid_argument: the host serves one
  /// /metrics for all). resume_on_open applies on every claim.
  engine_options engine;
  /// Serve Prometheus metrics (GET /metrics) on this loopback address
  /// (port 0: ephemeral, see metrics_port()): the node's (per partition:
  /// leader, epoch, applied offset, pending groups; assignments,
  /// revocations, poll errors, engines opened and closed) and every open
  /// engine's, labelled partition="P". Empty: none.
  std::string metrics_address = {};
  /// The routing keys' separator (partition_map): with '/', `order-7/pay`
  /// lives where `order-7` does.
  std::optional<char> separator;
  /// How long the host waits before it tries again to open an engine that
  /// failed to open (its store busy or the log away), while it still
  /// leads the partition.
  std::chrono::milliseconds retry_wait{100};
  /// How long stop() keeps serving the partitions it leads while the
  /// other nodes take them over (the hosts watching this one's door claim
  /// them at once, else the group moves them after node::leave: each is
  /// served here until its next owner's claim is read, so callers see a
  /// gap of one claim and an engine open, not a rebalance). Past it, the partitions still
  /// led here are closed and released as without a wait. Not waited for
  /// when this node leads nothing or is assigned every partition (no
  /// other member to take them). 0: no handover, close at once.
  std::chrono::milliseconds handover_wait{10000};
  /// Where the host's door listens for requests other nodes forward
  /// ("127.0.0.1:0": loopback, an ephemeral port). Its actual
  /// "host:port" becomes node.endpoint, so this node's claims carry it.
  /// The door is unauthenticated: a loopback or private network only.
  /// Empty: no door, and this host forwards nothing (engine_host::try_*
  /// then fail conflict for an id another node leads).
  std::string serve_address = {};
  /// How long one forwarded request waits for the owner's answer (a run
  /// waits for the workflow's output: longer runs need more).
  std::chrono::milliseconds request_timeout{5000};
  /// How long engine_host::try_* keep trying while the id's partition has
  /// no owner yet, its owner is changing or cannot be reached.
  std::chrono::milliseconds forward_deadline{30000};
  /// request_async's threads (host_actor::call_async): at most this many
  /// asynchronous requests run at once from this host, each as request()
  /// runs it; those of one id run one at a time in submission order.
  std::size_t async_threads = 8;
  /// With a door: watch the other owners' doors (a CAF monitor over one
  /// TCP connection each) and, when one's process is gone (the connection
  /// closed: it died; a paused process is not noticed), claim its
  /// partitions at once (takeover.hpp: one successor each) instead of
  /// waiting for the group's session timeout and rebalance. A claim is
  /// appended only if, read to the log's end, the gone process's claim is
  /// still in force (node::take_over). Off: only the group moves
  /// partitions. Without a door, nothing is watched.
  bool take_over_gone_owners = true;
  /// With take_over_gone_owners: a watched door is pinged every
  /// suspect_after / 4, and one that answers no ping for suspect_after
  /// counts as gone too (a paused or hung process: its connections stay
  /// open, so only the group's session timeout would notice it). A wrong
  /// suspicion (a process only slow) costs a take-over claim and the
  /// owner's claim back when the group still assigns it the partition,
  /// never a write under two epochs. 0: only a closed connection counts.
  std::chrono::milliseconds suspect_after{2000};
  /// The virtual actors this host's engines serve to calls from any node
  /// (host_actor in perdure/cluster/actor_calls.hpp):
  /// `served_actors<counter, account>()`. Every node of a cluster sets the
  /// same classes. Unset: actor calls through engine_host fail
  /// invalid_argument on this node's partitions.
  actor_call_handler actor_calls = {};
};

/// A request engine_host forwards to an id's owner (values are sent).
enum class request_kind : std::uint8_t {
  run = 1,    ///< bytes: encode_workflow_graph; answer: the output's bytes
  status = 2, ///< answer: one byte, the workflow_status
  output = 3, ///< name: the step (empty: the workflow); answer: its bytes
  cancel = 4, ///< answer: empty
  /// name: the signal; bytes: keyed_bytes(key, its encoded value)
  signal = 5,
  start = 6,  ///< bytes: encode_workflow_graph; answer: empty, once stored
  /// id: the actor; name: the method; bytes: actor_calls.hpp's request
  /// (class, idempotency key, arguments); answer: the encoded result
  actor_call = 7,
  /// id: routes to a partition; bytes: the statuses (one byte each);
  /// answer: that partition's (id, status) pairs
  list = 8,
  remove = 9, ///< answer: empty
  resume = 10, ///< answer: empty, once resumed
  metadata = 11, ///< answer: the workflow's metadata (metadata_wire.cpp)
  /// id: the workflow; name: the promise; bytes: keyed_bytes(key,
  /// promise_bytes(ok, value or reason)); answer: empty
  promise = 12,
  /// name: the step id; answer: its metadata (metadata_wire.cpp)
  step_metadata = 13,
  /// id: a child workflow of a parent in another partition; bytes: its
  /// graph, the parent and its child node (engine_children.cpp); answer:
  /// empty, once stored (ok for the same parent's child stored already)
  child_start = 14,
  /// id: the parent; name: its child, which ended (a hint: the parent
  /// looks at it now); answer: empty
  child_ended = 15,
};

/// The bytes of a keyed request (request_kind::signal, promise): its
/// idempotency key (1..200 bytes) and its payload. Tried again with the
/// same key, the request takes effect once.
std::string keyed_bytes(std::string_view key, std::string payload);
/// A promise settlement's payload: `ok` with an encoded value, or a
/// rejection with its reason.
std::string promise_bytes(bool ok, std::string value_or_reason);

/// request_kind::actor_call's bytes: (class name, idempotency key, the
/// encoded argument tuple), and the mutating methods waiting on the call
/// when there are any (remote_workflows::call_actor's `waiting`; a
/// fourth element, absent when empty). The key is empty for readonly
/// calls.
std::string encode_actor_call(std::string_view cls, std::string_view key,
                              std::string args,
                              const actor_call_path& waiting = {});

/// What a host did since it started.
struct engine_host_counters {
  std::uint64_t opened = 0;       ///< engines opened (claims served)
  std::uint64_t closed = 0;       ///< engines closed (losses, stop)
  std::uint64_t open_failures = 0; ///< failed opens (retried)
  std::uint64_t forwarded = 0;     ///< requests sent to another node's door
  std::uint64_t forward_retries = 0; ///< tries again (owner busy/changing)
  std::uint64_t served = 0;        ///< requests this host's door answered
  /// Take-overs started because a partition's owner's process was gone
  /// (its door's connection closed, or no ping answered) or leaving (its
  /// clean stop told this host's watch), before the group's rebalance;
  /// those given up (claimed anew meanwhile) count in the node's
  /// owner_counters::claims_dropped.
  std::uint64_t taken_over = 0;
  /// Watches other hosts registered at this host's door (with
  /// take_over_gone_owners, each watches the doors of the partitions'
  /// owners): they hear this host's stop() and take its partitions over
  /// at once.
  std::uint64_t door_watches = 0;
  /// Of those, the watchers waiting now: one whose process is gone (its
  /// connection closed) is let go.
  std::uint64_t door_watchers = 0;
};

/// One node with its engines. Thread-safe: every member may be called
/// from any thread, stop() from any but the node's threads.
class engine_host {
 public:
  /// Starts the node (node::start) and the host's thread, which opens and
  /// closes engines as the node's roles change. Errors: invalid_argument
  /// (engine.event_log set), those of node::start.
  static result<std::unique_ptr<engine_host>>
  start(engine_host_options options);

  /// stop().
  ~engine_host();
  engine_host(const engine_host&) = delete;
  engine_host& operator=(const engine_host&) = delete;

  /// Hands the partitions over (handover_wait: tells the hosts watching
  /// its door, which claim its partitions at once as when a process dies,
  /// leaves the group, and serves each partition until its next owner
  /// claims it), closes every engine
  /// still open (their workflows stop and stay resumable on the next
  /// owner), then stops the node. Idempotent.
  void stop();

  /// The node (its identity, partitions, counters).
  cluster::node& cluster_node() noexcept;
  const cluster::node& cluster_node() const noexcept;

  /// Where ids live: P = the log's partition count.
  const partition_map& routing() const noexcept;

  /// The engine of partition `p`: null unless this node leads `p` and the
  /// host opened its engine. A holder may keep it past a loss: it is
  /// closed then (new workflows fail closed, reads keep working).
  std::shared_ptr<engine> engine_of(partition_id p) const;

  /// The engine where `id` runs, when it runs on this node. Errors:
  /// conflict when another node leads the id's partition (the message
  /// names the partition and that node: send the request there), busy
  /// while no node leads it yet or its engine is opening here (retry),
  /// closed after stop().
  result<std::shared_ptr<engine>> engine_for(std::string_view id) const;

  /// The epoch (its claim's log offset) under which this host opened
  /// `eng`, while the host holds it and while it closes it; none once the
  /// host closed it (the partition lost or claimed again) and for an
  /// engine not of this host.
  /// A fencing token: a step body (this_step::engine()) may hand it to an
  /// external system that refuses a token lower than the highest it saw,
  /// so a body still running on a node that lost the partition cannot
  /// overwrite the new owner's effects there.
  std::optional<log_offset> epoch_of(const engine& eng) const;

  // -- any node serves any id -------------------------------------------------
  // Each runs on this node's engine when it leads the id's partition, else
  // is forwarded to the owner's door (its claim's endpoint) and returns
  // the owner's answer. While the partition has no owner, its owner
  // changes or cannot be reached, the request is tried again by the same
  // id until forward_deadline: a run is idempotent by its id (a finished
  // id returns its stored output, a live one is waited for), so a run
  // retried across a failover runs once. Errors: the engine's; conflict
  // when another node leads the id and has no door (or this host has
  // none); busy/timeout/closed when forward_deadline passed.

  /// Runs `wf` as workflow `id` (not empty) and returns its output.
  template <class T>
  result<T> try_run(const workflow<T>& wf, std::string_view id) {
    std::string graph;
    try {
      graph = encode_workflow_graph(wf);
    } catch (const error& e) {
      return unexpected{e.as_status()};
    }
    auto bytes = request(request_kind::run, id, {}, std::move(graph));
    if (!bytes)
      return std::move(bytes).error();
    return detail::decode_value<T>(*bytes);
  }
  /// Starts `wf` as workflow `id` (not empty) and returns without
  /// waiting for its output, once the owner's store holds the workflow
  /// (so through the log: a start acknowledged here runs even if its owner
  /// dies next): engine::run_async across the cluster; follow it by id
  /// with try_status, try_output. An id already stored or live is left
  /// as it is (a finished one is not run again, a stored unfinished one
  /// resumes); retried by the same id, a start runs once.
  template <class T>
  perdure::status try_start(const workflow<T>& wf, std::string_view id) {
    std::string graph;
    try {
      graph = encode_workflow_graph(wf);
    } catch (const error& e) {
      return e.as_status();
    }
    auto r = request(request_kind::start, id, {}, std::move(graph));
    return r ? perdure::status{} : std::move(r).error();
  }
  result<workflow_status> try_status(std::string_view id);
  template <class T>
  result<T> try_output(std::string_view id, std::string_view step = {}) {
    auto bytes = request(request_kind::output, id, step, {});
    if (!bytes)
      return std::move(bytes).error();
    return detail::decode_value<T>(*bytes);
  }
  perdure::status try_cancel(std::string_view id);
  /// engine::try_metadata(id) on the owner: the workflow's.
  result<workflow_metadata> try_metadata(std::string_view id);
  /// engine::try_metadata(id, step) on the owner: step `step` (its step
  /// id) of workflow `id`.
  result<step_metadata> try_metadata(std::string_view id,
                                     std::string_view step);
  /// engine::try_remove on the owner; a live workflow is conflict (not
  /// busy: busy is what the sender retries).
  perdure::status try_remove(std::string_view id);
  /// engine::try_resume on the owner, answered once it resumed (follow it
  /// by id); a live workflow is conflict, as for try_remove.
  perdure::status try_resume(std::string_view id);
  /// The workflows of every partition whose status is one of `filter`
  /// (all when empty), by id: one request to each partition's owner (its
  /// own engine here), each retried as above. Errors: the first
  /// partition's that failed, naming it.
  result<std::vector<workflow_entry>> try_list(
    std::vector<workflow_status> filter = {});
  /// engine::try_signal on the owner, exactly once: the signal carries an
  /// idempotency key (`key`, 1..200 bytes; empty: one made for this
  /// call), stored as its sender ("key:KEY"); the owner applies a key it
  /// finds in the workflow's signals no second time and answers ok. So a
  /// try again after a lost answer or a failover does not signal twice,
  /// and a caller that retries on its own (a redelivered Kafka record, an
  /// HTTP client) passes its own key: one per signal it means to send.
  /// Finding the key is one look-up of the mark its signal left
  /// (records::signal_sender_key); a key the mark cannot hold (a 200-byte
  /// key with a workflow id over about 160 bytes) scans the workflow's
  /// signals (`perdure-bench cluster-signal-keyed`).
  template <class T>
  perdure::status try_signal(std::string_view id, std::string_view name,
                             const T& value, std::string_view key = {}) {
    if constexpr (std::is_array_v<T> || std::is_pointer_v<T>)
      return signal_bytes(id, name, detail::encode_value(std::string{value}),
                          key);
    else
      return signal_bytes(id, name, detail::encode_value(value), key);
  }
  /// try_signal with an encoded value.
  perdure::status signal_bytes(std::string_view id, std::string_view name,
                               std::string value, std::string_view key = {});
  /// engine::try_complete on the owner of the promise's workflow
  /// (`promise_id` is "NAME@WORKFLOW"). Keyed as try_signal: tried again,
  /// a settlement by the same key answers ok; one by another sender fails
  /// conflict (a promise is settled once). invalid_argument: a malformed
  /// promise id or key.
  template <class T>
  perdure::status try_complete(std::string_view promise_id, const T& value,
                               std::string_view key = {}) {
    if constexpr (std::is_array_v<T> || std::is_pointer_v<T>)
      return settle_promise(promise_id, true,
                            detail::encode_value(std::string{value}), key);
    else
      return settle_promise(promise_id, true, detail::encode_value(value),
                            key);
  }
  /// engine::try_reject on the owner, keyed as try_complete.
  perdure::status try_reject(std::string_view promise_id,
                             std::string_view reason,
                             std::string_view key = {}) {
    return settle_promise(promise_id, false, std::string{reason}, key);
  }
  /// Behind try_complete (`ok`: an encoded value) and try_reject.
  perdure::status settle_promise(std::string_view promise_id, bool ok,
                                 std::string value_or_reason,
                                 std::string_view key = {});
  /// The type-erased request behind the above (local or forwarded).
  result<std::string> request(request_kind kind, std::string_view id,
                              std::string_view name, std::string bytes);
  /// request() off the caller's thread: `done` gets its result on one of
  /// the host's async_threads. Requests of one id run one at a time in
  /// the order they were made here (so two asynchronous calls of one
  /// actor keep their order); others run beside them. Once stop() has
  /// handed the partitions over, `done` gets `closed` (at once, or when
  /// stop() drops a request that had not run). `done` must be quick and
  /// must not call stop().
  void request_async(request_kind kind, std::string_view id,
                     std::string_view name, std::string bytes,
                     std::function<void(result<std::string>)> done);
  /// The port the door listens on; none without serve_address.
  std::optional<std::uint16_t> door_port() const noexcept;

  /// The partitions with an open engine here, ascending.
  std::vector<partition_id> running() const;

  engine_host_counters counters() const;

  /// What /metrics serves now (also without metrics_address).
  std::string metrics_text() const;
  /// The host's own registry, served on /metrics beside the engines'
  /// (unlabelled by partition): modules running on the host add their
  /// families there, as a cluster feed does (kafka_feed.hpp).
  metrics::registry& metrics() const noexcept;
  /// The port /metrics is served on; none when metrics_address is empty.
  std::optional<std::uint16_t> metrics_port() const noexcept;

  struct impl;

 private:
  friend std::string new_request_key(engine_host&);
  friend std::mutex& keyed_lock(engine_host&, const std::string&);
  explicit engine_host(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

} // namespace perdure::cluster
