// SPDX-License-Identifier: Apache-2.0
// engine_host's own metrics: per partition the node's role, epoch, applied
// offset and pending groups; the node's and the host's counters.

#include "engine_host_metrics.hpp"

#include <optional>
#include <string>

namespace perdure::cluster {

namespace {

using metrics::kind;
using metrics::sample;

// One gauge family with a series per partition, `value` of its status;
// a value that is an empty optional leaves the partition out.
template <class Value>
void per_partition(metrics::registry& r, const engine_host& host,
                   std::string_view name, std::string_view help,
                   Value value) {
  r.add_callback(name, help, kind::gauge, [&host, value] {
    std::vector<sample> out;
    for (const auto& s : host.cluster_node().partitions()) {
      std::optional<double> v;
      if constexpr (requires { value(s).has_value(); }) {
        if (auto o = value(s))
          v = static_cast<double>(*o);
      } else {
        v = static_cast<double>(value(s));
      }
      if (v)
        out.push_back(sample{
          .labels = {{"partition", std::to_string(s.partition)}},
          .value = *v});
    }
    return out;
  });
}

// One series of the host's: a counter (total) or a gauge (`as`).
template <class Value>
void total(metrics::registry& r, const engine_host& host,
           std::string_view name, std::string_view help, Value value,
           kind as = kind::counter) {
  r.add_callback(name, help, as, [&host, value] {
    return std::vector<sample>{
      sample{.labels = {}, .value = static_cast<double>(value(host))}};
  });
}

} // namespace

void add_host_metrics(metrics::registry& r, const engine_host& host) {
  per_partition(r, host, "perdure_cluster_partition_leader",
                "1 when this node leads the partition (its claim is read "
                "back), else 0",
                [](const partition_status& s) {
                  return s.role == owner_role::leader ? 1 : 0;
                });
  per_partition(r, host, "perdure_cluster_partition_assigned",
                "1 when the consumer group assigned the partition to this "
                "node",
                [](const partition_status& s) { return s.assigned ? 1 : 0; });
  per_partition(r, host, "perdure_cluster_partition_tailing",
                "1 when this node applies the partition's records into its "
                "store (it leads, claims, or is one of its standbys); 0 "
                "when it reads only the claims (node_options::"
                "standby_replicas), its applied offset stays behind",
                [](const partition_status& s) { return s.tailing ? 1 : 0; });
  per_partition(r, host, "perdure_cluster_partition_epoch",
                "The epoch in force in this node's store (the offset of "
                "the last claim; -1: none)",
                [](const partition_status& s) { return s.epoch; });
  per_partition(r, host, "perdure_cluster_partition_applied_offset",
                "The log offset after the last record applied in this "
                "node's store",
                [](const partition_status& s) { return s.next; });
  per_partition(
    r, host, "perdure_cluster_partition_apply_lag",
    "Records in the log not yet applied in this node's store (the log's "
    "end offset as last fetched, less the applied offset); partitions "
    "whose end is not known yet have no series",
    [](const partition_status& s) -> std::optional<log_offset> {
      if (!s.log_end)
        return std::nullopt;
      return *s.log_end > s.next ? *s.log_end - s.next : 0;
    });
  per_partition(r, host, "perdure_cluster_partition_pending_groups",
                "Groups submitted on this node and not decided yet",
                [](const partition_status& s) { return s.pending; });
  total(r, host, "perdure_cluster_assignments_total",
        "Partitions the consumer group assigned to this node",
        [](const engine_host& h) {
          return h.cluster_node().counters().assigned;
        });
  total(r, host, "perdure_cluster_revocations_total",
        "Partitions the consumer group took from this node",
        [](const engine_host& h) {
          return h.cluster_node().counters().revoked;
        });
  total(r, host, "perdure_cluster_poll_errors_total",
        "Failed reads of a partition (retried)",
        [](const engine_host& h) {
          return h.cluster_node().counters().poll_errors;
        });
  total(r, host, "perdure_cluster_engines_opened_total",
        "Engines opened on a partition this node came to lead",
        [](const engine_host& h) { return h.counters().opened; });
  total(r, host, "perdure_cluster_engines_closed_total",
        "Engines closed (partition lost, claimed again, or stop)",
        [](const engine_host& h) { return h.counters().closed; });
  total(r, host, "perdure_cluster_engine_open_failures_total",
        "Engine opens that failed and were retried",
        [](const engine_host& h) { return h.counters().open_failures; });
  total(r, host, "perdure_cluster_forwarded_total",
        "Requests sent to the door of the node that leads their id",
        [](const engine_host& h) { return h.counters().forwarded; });
  total(r, host, "perdure_cluster_forward_retries_total",
        "Requests tried again while their id's owner was unknown, busy or "
        "changing",
        [](const engine_host& h) { return h.counters().forward_retries; });
  total(r, host, "perdure_cluster_door_served_total",
        "Requests other nodes forwarded that this node's door served",
        [](const engine_host& h) { return h.counters().served; });
  total(r, host, "perdure_cluster_taken_over_total",
        "Take-overs started because a partition's owner's process was "
        "gone (its door's connection closed or no ping answered) or "
        "leaving (a clean stop)",
        [](const engine_host& h) { return h.counters().taken_over; });
  total(r, host, "perdure_cluster_door_watches_total",
        "Watches other nodes registered at this node's door: each takes "
        "this node's partitions over at once when it stops or dies",
        [](const engine_host& h) { return h.counters().door_watches; });
  total(
    r, host, "perdure_cluster_door_watchers",
    "Nodes watching this node's door now (a watcher whose process is gone "
    "is let go)",
    [](const engine_host& h) { return h.counters().door_watchers; },
    kind::gauge);
  total(r, host, "perdure_cluster_take_overs_dropped_total",
        "Take-overs given up once caught up: the partition had been "
        "claimed anew meanwhile",
        [](const engine_host& h) {
          return h.cluster_node().counters().owners.claims_dropped;
        });
}

} // namespace perdure::cluster
