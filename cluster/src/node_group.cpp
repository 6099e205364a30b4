// SPDX-License-Identifier: Apache-2.0
// node: the consumer group that assigns partitions, and the standbys
// (node_options::standby_replicas) that keep a partition's store current
// on nodes that do not own it. The node never consumes through the group
// (its partitions are paused) and never commits offsets: the stores hold
// where each partition's replica is. Membership is only the input of
// claim(): a revoked partition stays led until another node's claim is
// read (the log, not the group, fences writers), so a rebalance stops no
// partition that keeps or changes its owner before the new owner has
// claimed it.

#include "node_impl.hpp"

#include "perdure/cluster/takeover.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace perdure::cluster {

namespace {

// Defaults of the group consumer; group_properties override all but the
// ones node::start refuses. Eager assignment: every rebalance revokes all
// and assigns anew, so the callback sees whole assignments.
const std::map<std::string, std::string> group_defaults{
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "latest"},
    {"enable.partition.eof", "false"},
    {"partition.assignment.strategy", "range"},
    {"socket.nagle.disable", "true"},
    {"reconnect.backoff.ms", "20"},
    {"reconnect.backoff.max.ms", "1000"},
};

eventlog::log_level level_of(int syslog_level) {
  return syslog_level <= 3   ? eventlog::log_level::error
         : syslog_level == 4 ? eventlog::log_level::warning
         : syslog_level <= 6 ? eventlog::log_level::info
                             : eventlog::log_level::debug;
}

void group_log(const rd_kafka_t* rk, int level, const char* facility,
               const char* line) {
  auto* n = static_cast<const node::impl*>(rd_kafka_opaque(rk));
  if (n)
    n->log_line(level_of(level),
                fmt::format("kafka group {} {}: {}", rd_kafka_name(rk),
                            facility, line));
}

void group_error(rd_kafka_t* rk, int err, const char* reason, void*) {
  auto* n = static_cast<const node::impl*>(rd_kafka_opaque(rk));
  if (n)
    n->log_line(eventlog::log_level::warning,
                fmt::format("kafka group: {}: {}",
                            rd_kafka_err2str(
                                static_cast<rd_kafka_resp_err_t>(err)),
                            reason));
}

void on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                  rd_kafka_topic_partition_list_t* parts, void* opaque) {
  static_cast<node::impl*>(opaque)->rebalance(err, parts);
}

// max.poll.interval.ms, unless set: also the group's rebalance timeout,
// and what librdkafka waits for a JoinGroup answer (plus 3 s). Its
// default, 300 s, let one join the coordinator never answered (librdkafka
// 2.0.2's mock drops one now and then) keep a node out of the group for
// five minutes. The poll thread polls the group every round, so it never
// comes near this. Twice the session timeout, at least 15 s: a
// coordinator may hold a join about a session timeout (the mock holds
// every rebalance S - 1 s), and an answer must not come after the client
// gave up on it.
std::int64_t rebalance_timeout_ms(
  const std::map<std::string, std::string>& props) {
  constexpr std::int64_t floor_ms = 15'000;
  constexpr std::int64_t librdkafka_session_ms = 45'000;
  auto session = librdkafka_session_ms;
  if (auto it = props.find("session.timeout.ms"); it != props.end()) {
    try {
      session = std::stoll(it->second);
    } catch (const std::exception&) {
      // librdkafka refuses the value itself, naming it.
    }
  }
  return std::max(2 * session, floor_ms);
}

bool is_security(const std::string& key) {
  return key.rfind("security.", 0) == 0 || key.rfind("sasl.", 0) == 0
         || key.rfind("ssl.", 0) == 0;
}

} // namespace

status node::impl::join_group() {
  auto props = group_defaults;
  // The log's security settings reach the brokers for the group too.
  for (auto& [k, v] : options.log.properties)
    if (is_security(k))
      props[k] = v;
  for (auto& [k, v] : options.group_properties)
    props[k] = v;
  if (!props.count("max.poll.interval.ms"))
    props["max.poll.interval.ms"] = std::to_string(rebalance_timeout_ms(props));
  props["group.id"] = "perdure." + options.log.app;
  props["bootstrap.servers"] = options.log.brokers;
  props["client.id"] = options.node_id;
  auto* conf = rd_kafka_conf_new();
  char err[512];
  for (auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err)
        != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return {errc::invalid_argument,
              fmt::format("node group property '{}' is refused by "
                          "librdkafka {} (value not shown)",
                          k, rd_kafka_version_str())};
    }
  }
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_log_cb(conf, group_log);
  rd_kafka_conf_set_error_cb(conf, group_error);
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!consumer) {
    rd_kafka_conf_destroy(conf);
    return {errc::invalid_argument,
            fmt::format("node group consumer: {}", err)};
  }
  // Errors and rebalances are all served by rd_kafka_consumer_poll.
  rd_kafka_poll_set_consumer(consumer);
  auto* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, log->topic().c_str(),
                                    RD_KAFKA_PARTITION_UA);
  auto e = rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e)
    return {errc::io, fmt::format("node joining group perdure.{}: {}",
                                  options.log.app, rd_kafka_err2str(e))};
  return {};
}

bool node::impl::serve_group() {
  if (left)
    return false;
  auto* m = rd_kafka_consumer_poll(consumer, 0);
  if (!m)
    return false;
  if (m->err)
    log_line(eventlog::log_level::debug,
             fmt::format("kafka group: {}", rd_kafka_message_errstr(m)));
  rd_kafka_message_destroy(m);
  return true;
}

void node::impl::rebalance(rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts) {
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Assigned, and paused: the node reads the log through kafka_log.
    // The claims follow the group's assignment, which stands whatever the
    // consumer's local assign answers (it fails only while closing).
    if (auto e = rd_kafka_assign(consumer, parts))
      log_line(eventlog::log_level::warning,
               fmt::format("node {}: assign: {}", to_string(self),
                           rd_kafka_err2str(e)));
    rd_kafka_pause_partitions(consumer, parts);
    std::string list;
    for (int i = 0; i < parts->cnt; ++i) {
      auto p = parts->elems[i].partition;
      if (p < 0 || p >= partitions())
        continue;
      auto at = static_cast<std::size_t>(p);
      assigned[at] = true;
      ++group_counters.assigned;
      if (!no_claims)
        owners[at]->claim();
      list += fmt::format("{}{}", list.empty() ? "" : " ", p);
    }
    log_line(eventlog::log_level::info,
             fmt::format("node {}: assigned partitions [{}]",
                         to_string(self), list));
    return;
  }
  // Revoked (or an error): no longer assigned, but still led: the owner
  // goes on serving until it reads its next owner's claim (which fences
  // it), or is assigned the partition again, which most partitions of an
  // eager rebalance are.
  // One still catching up stops: it appended nothing yet. One claiming
  // goes on as a leader would: its claim is in the log or on its way and
  // fences the partition's leader once read, whatever this node does;
  // released, it would read its own claim as a follower and no node
  // would lead the partition until the group assigned it again (S - 1 s
  // on the mock). So it leads once its claim is read and serves until
  // the next owner's claim.
  for (std::size_t p = 0; p < assigned.size(); ++p) {
    if (!assigned[p])
      continue;
    assigned[p] = false;
    ++group_counters.revoked;
    if (owners[p]->role() == owner_role::catching_up)
      owners[p]->release();
  }
  log_line(eventlog::log_level::info,
           fmt::format("node {}: partitions revoked ({}); led ones are "
                       "served until claimed elsewhere",
                       to_string(self), rd_kafka_err2str(err)));
  if (auto e = rd_kafka_assign(consumer, nullptr))
    log_line(eventlog::log_level::warning,
             fmt::format("node {}: unassign: {}", to_string(self),
                         rd_kafka_err2str(e)));
}

void node::stop_claiming() {
  auto& n = *impl_;
  std::lock_guard guard{n.mutex};
  n.claims_stopped = true;
  n.wake.notify_all();
}

void node::leave() {
  auto& n = *impl_;
  std::lock_guard guard{n.mutex};
  n.leaving = true;
  n.wake.notify_all();
}

void node::impl::leave_group(bool release) {
  if (consumer && !left) {
    // Serves the revoke callback on this thread, then leaves the group.
    rd_kafka_consumer_close(consumer);
    left = true;
    log_line(eventlog::log_level::info,
             fmt::format("node {}: left the group", to_string(self)));
  }
  if (release)
    for (auto& o : owners)
      o->release();
}

void node::impl::pick_standbys() {
  if (!options.standby_replicas)
    return; // the default: every partition is tailed
  // Ranked again only when an owner changed (not on every poll round).
  bool same = standby_owners.size() == owners.size();
  for (std::size_t p = 0; same && p < owners.size(); ++p)
    same = standby_owners[p] == owners[p]->view().owner.node;
  if (same)
    return;
  standby_owners.resize(owners.size());
  for (std::size_t p = 0; p < owners.size(); ++p)
    standby_owners[p] = owners[p]->view().owner.node;
  auto mine = standby_partitions(standby_owners, self.node,
                                 *options.standby_replicas);
  for (std::size_t p = 0; p < owners.size(); ++p)
    owners[p]->set_standby(mine[p]);
}

} // namespace perdure::cluster
