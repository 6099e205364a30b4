// SPDX-License-Identifier: Apache-2.0
// perdure-cluster-node: one cluster::node as a process, driven on stdin by
// the cluster torture (cluster_torture.cpp). Each group it submits appends
// its payload to stream "s" of the partition's store.
//
//   perdure-cluster-node --brokers B --app A --id ID --dir D
//                        [--session-timeout-ms N] [--heartbeat-ms N]
//                        [--fetch-wait-ms N] [--max-poll-ms N]
//                        [--standbys K]  (node_options::standby_replicas;
//                                         default: every node tails all)
//
// Prints "ready INCARNATION PARTITIONS" once started, "lead P EPOCH" when
// it starts leading partition P and "nolead P" when it stops. Commands:
//   submit P PAYLOAD  -> later "ok P OFFSET PAYLOAD" (applied here at
//                        OFFSET), "failed P PAYLOAD CODE" (never applied)
//                        or "unknown P PAYLOAD" (released first: fate
//                        unknown)
//   applied           -> "tailing T0 T1 ..." (1: this node applies the
//                        partition's records, 0: it reads only its claims;
//                        --standbys), then "applied N0 N1 ..." (each
//                        partition's next offset)
//   quit              -> stops cleanly (leaves the group), "bye", exit 0
// End of input quits too.

#include "perdure/cluster/node.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;

namespace {

std::mutex out_mutex;

void say(const std::string& line) {
  std::lock_guard guard{out_mutex};
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int usage() {
  std::fputs("usage: perdure-cluster-node --brokers B --app A --id ID "
             "--dir D [--session-timeout-ms N] [--heartbeat-ms N] "
             "[--fetch-wait-ms N] [--max-poll-ms N] [--standbys K]\n",
             stderr);
  return 2;
}

std::string group_of(const std::string& payload) {
  eventlog::write_batch b;
  b.append("s", 1, payload);
  std::vector<eventlog::write_batch> v;
  v.push_back(std::move(b));
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return encode_group_bytes(static_cast<eventlog::time_ns>(now), v);
}

} // namespace

int main(int argc, char** argv) {
  std::string brokers, app, id, dir;
  std::string session = "3000", heartbeat = "1000", fetch_wait = "5";
  std::string max_poll = "0"; // 0: the node's max.poll.interval.ms
  std::string standbys = "all";
  const std::map<std::string, std::string*> flags{
    {"--brokers", &brokers},           {"--app", &app},
    {"--id", &id},                     {"--dir", &dir},
    {"--session-timeout-ms", &session}, {"--heartbeat-ms", &heartbeat},
    {"--fetch-wait-ms", &fetch_wait},  {"--max-poll-ms", &max_poll},
    {"--standbys", &standbys}};
  for (int i = 1; i + 1 < argc; i += 2) {
    auto f = flags.find(argv[i]);
    if (f == flags.end())
      return usage();
    *f->second = argv[i + 1];
  }
  if (argc % 2 != 1 || brokers.empty() || app.empty() || id.empty()
      || dir.empty())
    return usage();
  auto prefix = "node " + id + ": ";
  node_options o;
  o.log = {.brokers = brokers,
           .app = app,
           .properties = {{"fetch.wait.max.ms", fetch_wait}},
           .log = [prefix](eventlog::log_level l, std::string_view text) {
             if (l >= eventlog::log_level::info || std::getenv(
                                                       "PERDURE_NODE_DEBUG"))
               std::fprintf(stderr, "%s%.*s\n", prefix.c_str(),
                            static_cast<int>(text.size()), text.data());
           }};
  o.node_id = id;
  o.topic_configs_wait = {}; // the mock answers no DescribeConfigs
  o.store.dir = dir;
  o.group_properties = {{"session.timeout.ms", session},
                        {"heartbeat.interval.ms", heartbeat}};
  if (standbys != "all")
    o.standby_replicas = std::stoul(standbys);
  if (max_poll != "0")
    o.group_properties["max.poll.interval.ms"] = max_poll;
  // PERDURE_NODE_DEBUG=cgrp,...: librdkafka debug contexts of the group.
  if (auto* d = std::getenv("PERDURE_NODE_DEBUG"))
    o.group_properties["debug"] = d;
  // Called on the poll thread only: `leading` needs no lock.
  std::vector<bool> leading;
  o.on_change = [&leading](const partition_status& s) {
    if (leading.size() <= s.partition)
      leading.resize(s.partition + 1, false);
    bool now = s.role == owner_role::leader;
    if (now)
      say("lead " + std::to_string(s.partition) + " "
          + std::to_string(s.epoch));
    else if (leading[s.partition])
      say("nolead " + std::to_string(s.partition));
    leading[s.partition] = now;
  };
  auto started = node::start(std::move(o));
  if (!started) {
    std::fprintf(stderr, "%sdoes not start: %s\n", prefix.c_str(),
                 started.error().to_string().c_str());
    return 1;
  }
  auto& n = **started;
  say("ready " + std::to_string(n.self().incarnation) + " "
      + std::to_string(n.partition_count()));
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in{line};
    std::string cmd;
    in >> cmd;
    if (cmd == "quit")
      break;
    if (cmd == "applied") {
      std::string tailing = "tailing", text = "applied";
      for (auto& s : n.partitions()) {
        tailing += s.tailing ? " 1" : " 0";
        text += " " + std::to_string(s.next);
      }
      say(tailing);
      say(text);
      continue;
    }
    long p = -1;
    std::string payload;
    if (cmd != "submit" || !(in >> p >> payload) || p < 0) {
      std::fprintf(stderr, "%sunknown command '%s'\n", prefix.c_str(),
                   line.c_str());
      continue;
    }
    auto ps = std::to_string(p);
    n.submit(static_cast<partition_id>(p), group_of(payload),
             [ps, payload](result<log_offset> r) {
               if (r)
                 say("ok " + ps + " " + std::to_string(*r) + " " + payload);
               else if (r.error().code() == errc::closed)
                 say("unknown " + ps + " " + payload);
               else
                 say("failed " + ps + " " + payload + " "
                     + std::string{to_string(r.error().code())});
             });
  }
  n.stop();
  say("bye");
  return 0;
}
