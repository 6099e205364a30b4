// SPDX-License-Identifier: Apache-2.0
#pragma once

// What node.cpp (start, poll thread, submit) and node_group.cpp (the
// consumer group that assigns partitions) share.

#include "perdure/cluster/node.hpp"

#include "node_replicator.hpp"

#include <librdkafka/rdkafka.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace perdure::cluster {

struct node::impl {
  struct submission {
    partition_id partition = 0;
    std::string bytes;
    group_done done;
  };

  node_options options;
  node_identity self;
  // Declared in this order so that owners go before stores and the log.
  std::unique_ptr<kafka_log> log;
  std::vector<std::unique_ptr<lmdb_replica_store>> stores;
  // Each store's replicator (also held by the store's options).
  std::vector<std::shared_ptr<partition_replicator>> replicators;
  std::vector<std::unique_ptr<partition_owner>> owners;
  rd_kafka_t* consumer = nullptr;
  std::thread poller;
  // The log's partition count, set once by start(): stop() clears owners
  // while submit() and partition_count() may run on other threads.
  std::int32_t partition_total = 0;

  // Poll thread only.
  std::vector<bool> assigned;
  bool left = false; // the consumer closed (leave_group)
  bool no_claims = false; // leaving or claims_stopped, as of this round
  std::vector<std::string> last_error; // per partition, to log changes
  // Per partition: since when it has been catching up or claiming, and
  // whether that was reported as slow (watch_claims).
  std::vector<std::chrono::steady_clock::time_point> claiming_since;
  std::vector<bool> claim_reported;
  // Each partition's owner (node id) when the standbys were last picked.
  std::vector<std::string> standby_owners;
  node_counters group_counters;        // assigned, revoked, poll_errors

  // Held through stop().
  std::mutex stop_mutex;
  // Guarded by mutex.
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::vector<submission> queue;
  bool stopping = false;
  bool leaving = false; // node::leave asked
  bool claims_stopped = false; // node::stop_claiming asked
  // node::take_over, for the poll thread: partition, epoch to replace.
  std::vector<std::pair<partition_id, log_offset>> take_overs;
  bool stopped = false;
  // Set by the log (partition_log::on_readable) when records may have
  // come; cleared by a round before it reads.
  bool readable = false;
  std::uint64_t submitted = 0;
  std::vector<partition_status> snapshot;
  node_counters counters;

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl();

  void log_line(eventlog::log_level level, const std::string& text) const;
  std::int32_t partitions() const noexcept {
    return partition_total;
  }

  // Logs each partition whose role changed since `before` (info), and a
  // claim still not read back after node_options::claim_warn (warning,
  // once per claim): a stalled handover shows in the node's log.
  void watch_claims(const std::vector<partition_status>& before,
                    const std::vector<partition_status>& now);

  // node_group.cpp: joins the group (subscribes to the log topic).
  status join_group();
  // Serves the group once: rebalances run here (on the poll thread).
  bool serve_group();
  // The rebalance callback's work: assign -> claim, revoke -> no longer
  // assigned (still led until another node's claim is read).
  void rebalance(rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* parts);
  // Leaves the group (once: revokes and closes the consumer); with
  // `release`, every owner stops leading too.
  void leave_group(bool release);

  // node.cpp: node::submit (any thread).
  void submit(partition_id p, std::string bytes, group_done done);
  // node.cpp: the poll thread.
  void run();
  bool round();
  // node_options::standby_replicas: tells each owner whether this node is
  // one of its partition's standbys (takeover.hpp's ranking).
  void pick_standbys();
  // Publishes the partitions' state; calls on_change for changes when
  // `notify` (not at start: the initial state is no change).
  void publish(bool notify = true);
};

} // namespace perdure::cluster
