// SPDX-License-Identifier: Apache-2.0
// cluster-failover: how long partitions go unserved when a node dies or
// stops. Three perdure-bench-node processes (session.timeout.ms 3000,
// heartbeat.interval.ms 1000) on perdure-mock-kafka (3 brokers, a log
// topic of 8 partitions); every node probes every partition it has an
// engine for (a one-step workflow every 20 ms) and logs each success with
// the machine's monotonic clock. Each round:
//   kill: SIGKILL a node (t0 = once it is reaped); `kill_served_s` = when
//     the last of its partitions had a successful probe on another node;
//     `kill_others_gap_s` = the longest gap of the other partitions'
//     probes after t0 (a rebalance that stops them too shows here);
//     `kill_settled_s` = when the group had evicted it and every live
//     node served exactly what it was assigned (a node that took a
//     partition over handed it on), `kill_any_gap_s` = the longest gap
//     of any partition until then;
//   restart: the node comes back with its store; `join_gap_s` = the
//     longest gap of any partition while it joins;
//   stop: a node is told to quit (engine_host::stop, t0 = the command);
//     `stop_served_s` = when the last of its partitions was served by
//     another node, `stop_gap_s` = the longest gap of those partitions'
//     probes after t0 (below stop_served_s when the stopping node serves
//     them while the others take over), `stop_return_s` = when stop()
//     returned; then it is restarted as above;
//   pause: a node is SIGSTOPped (t0 = once it is stopped);
//     `pause_served_s` = when the last of its partitions was served by
//     another node (take-over once its door answers no ping for
//     engine_host_options::suspect_after, 2 s, else the group's session
//     timeout); then SIGCONT, and the cluster settles (a zombie that
//     reads the newer claims and, if the group still assigns it a
//     partition, claims it back).
// Figures: medians and maxima over the rounds. A round waits for a
// condition (every partition served after the event) with a deadline of
// 120 s; a missed deadline fails the run (`correct` 0).
//
// PERDURE_BENCH_ROUNDS: rounds of each kind (default 5);
// PERDURE_BENCH_HEARTBEAT_MS: the nodes' heartbeat.interval.ms;
// The nodes run as a deployment does: each with a door (forwarding), and
// claiming a gone process's partitions at once (engine_host_options::
// take_over_gone_owners, the default) instead of waiting for the group's
// rebalance. PERDURE_BENCH_TAKEOVER=0: the group alone moves partitions
// (doors kept); PERDURE_BENCH_DOOR=0: no doors (and so no take-over);
// PERDURE_BENCH_SUSPECT_MS: engine_host_options::suspect_after (2000; 0:
// a paused node is noticed by the group only); PERDURE_BENCH_STANDBYS:
// the nodes' standby_replicas (unset: every node tails every partition).
// Each node logs to NODE.log in the run's directory; a round that misses
// its deadline prints the last PERDURE_BENCH_LOG_TAIL lines (25) of each;
// PERDURE_BENCH_GROUP_DEBUG=1 adds librdkafka's group debugging to them.

#include "bench.hpp"

#include "cluster_bench_nodes.hpp"
#include "kafka_mock_process.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <csignal>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

namespace perdure::bench {

namespace {

using namespace std::chrono_literals;
using ns_t = std::int64_t;
constexpr int partitions = 8;
constexpr int node_count = 3;
constexpr auto round_deadline = 120s;

ns_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

double seconds(ns_t ns) {
  return static_cast<double>(ns) / 1e9;
}

std::set<int> all_partitions() {
  std::set<int> every;
  for (int p = 0; p < partitions; ++p)
    every.insert(p);
  return every;
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Successful probes: per partition, per node, the times (ns, ascending
// per file).
using probe_times = std::vector<std::map<std::string, std::vector<ns_t>>>;

class failover_cluster {
 public:
  explicit failover_cluster(const bench_options& o) : dir_{o.dir / "fo"} {
    auto made = mock_.command(fmt::format("topic perdure.{}.log {}", app_,
                                          partitions));
    if (made != "ok")
      throw std::runtime_error{"mock topic: " + made};
    // Before the nodes open their logs in it.
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < node_count; ++i)
      start(i);
    settle();
  }

  std::string id(int i) const {
    return fmt::format("n{}", i + 1);
  }
  test::subprocess& node(int i) {
    return *nodes_[static_cast<std::size_t>(i)];
  }

  void start(int i) {
    auto n = id(i);
    nodes_.resize(node_count);
    std::vector<std::string> argv{
      PERDURE_BENCH_NODE, "--brokers", mock_.bootstrap(), "--app", app_,
      "--id", n, "--dir", (dir_ / n).string(), "--heartbeat-ms",
      env_or("PERDURE_BENCH_HEARTBEAT_MS", "1000"), "--serve",
      env_or("PERDURE_BENCH_DOOR", "1") == "1" ? "127.0.0.1:0" : "",
      "--take-over", env_or("PERDURE_BENCH_TAKEOVER", "1"),
      "--suspect-ms", env_or("PERDURE_BENCH_SUSPECT_MS", "2000"),
      "--probe-log", (dir_ / (n + ".probes")).string(), "--log",
      (dir_ / (n + ".log")).string(), "--group-debug",
      env_or("PERDURE_BENCH_GROUP_DEBUG", "0")};
    if (auto k = env_or("PERDURE_BENCH_STANDBYS", ""); !k.empty()) {
      argv.push_back("--standbys");
      argv.push_back(k);
    }
    nodes_[static_cast<std::size_t>(i)] = std::make_unique<test::subprocess>(
      argv, test::subprocess_options{.pipe_stdin = true});
  }

  std::set<int> partitions_of(int i, const std::string& what = "list") {
    std::istringstream in{ask(node(i), what, 30s)};
    std::string word;
    in >> word;
    std::set<int> out;
    for (int p; in >> p;)
      out.insert(p);
    return out;
  }

  probe_times read_probes() const {
    probe_times out(partitions);
    for (int i = 0; i < node_count; ++i) {
      std::ifstream in{dir_ / (id(i) + ".probes")};
      int p = 0;
      ns_t t = 0;
      while (in >> p >> t)
        if (p >= 0 && p < partitions)
          out[static_cast<std::size_t>(p)][id(i)].push_back(t);
    }
    return out;
  }

  // Waits until partition p was served after `t0` by a node other than
  // `except`, for every p in `which`; returns the last first-success time.
  ns_t wait_served(const std::set<int>& which, ns_t t0,
                   const std::string& except = {}) {
    auto deadline = std::chrono::steady_clock::now() + round_deadline;
    for (;;) {
      auto probes = read_probes();
      ns_t last = t0;
      bool all = true;
      for (int p : which) {
        ns_t first = 0;
        for (auto& [n, times] : probes[static_cast<std::size_t>(p)]) {
          if (n == except)
            continue;
          auto it = std::upper_bound(times.begin(), times.end(), t0);
          if (it != times.end() && (first == 0 || *it < first))
            first = *it;
        }
        if (first == 0)
          all = false;
        else
          last = std::max(last, first);
      }
      if (all)
        return last;
      if (std::chrono::steady_clock::now() > deadline) {
        print_log_tails();
        throw std::runtime_error{"partitions not served again within 120 s"};
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  // Every live node runs an engine on exactly the partitions the group
  // assigned it (a taker handed them on), every partition has one, and
  // every partition was served since the call plus a second.
  // Returns when the assignments matched.
  ns_t settle(int dead = -1) {
    auto deadline = std::chrono::steady_clock::now() + round_deadline;
    for (;;) {
      std::set<int> all;
      bool each = true;
      std::string seen; // what each node ran and was assigned, for the error
      for (int i = 0; i < node_count; ++i) {
        if (i == dead)
          continue;
        auto mine = partitions_of(i);
        auto assigned = partitions_of(i, "assigned");
        each = each && !mine.empty() && mine == assigned;
        all.insert(mine.begin(), mine.end());
        seen += fmt::format(" {} runs [{}] assigned [{}];", id(i),
                            fmt::join(mine, " "), fmt::join(assigned, " "));
      }
      if (each && static_cast<int>(all.size()) == partitions)
        break;
      if (std::chrono::steady_clock::now() > deadline) {
        print_log_tails();
        throw std::runtime_error{fmt::format(
          "the cluster did not settle within 120 s:{}{}", seen,
          mock_.aborted() ? " (the mock cluster aborted: an rdkafka_mock "
                            "assertion, on stderr)"
                          : "")};
      }
      std::this_thread::sleep_for(50ms);
    }
    auto matched = now_ns();
    wait_served(all_partitions(), matched + 1'000'000'000);
    return matched;
  }

  // The last lines of each node's log, on stderr (a missed deadline).
  void print_log_tails() const {
    auto tail = std::stoul(env_or("PERDURE_BENCH_LOG_TAIL", "25"));
    for (int i = 0; i < node_count; ++i) {
      std::ifstream in{dir_ / (id(i) + ".log")};
      std::vector<std::string> lines;
      for (std::string line; std::getline(in, line);)
        lines.push_back(std::move(line));
      auto from = lines.size() > tail ? lines.size() - tail : 0;
      fmt::print(stderr, "-- the last {} lines of {}'s log (of {}):\n",
                 lines.size() - from, id(i), lines.size());
      for (auto k = from; k < lines.size(); ++k)
        fmt::print(stderr, "{}\n", lines[k]);
    }
  }

  // The longest time any partition of `which` went without a successful
  // probe on any node within [from, to], in seconds.
  static double longest_gap(const probe_times& probes,
                            const std::set<int>& which, ns_t from, ns_t to) {
    ns_t gap = 0;
    for (int p : which) {
      std::vector<ns_t> times;
      for (auto& [n, t] : probes[static_cast<std::size_t>(p)])
        times.insert(times.end(), t.begin(), t.end());
      std::sort(times.begin(), times.end());
      ns_t prev = from;
      for (auto t : times) {
        if (t <= from)
          continue;
        if (t > to)
          break;
        gap = std::max(gap, t - prev);
        prev = t;
      }
      gap = std::max(gap, to - prev);
    }
    return seconds(gap);
  }

 private:
  test::kafka_mock_process mock_{{"--brokers", "3"}};
  std::string app_ = "fo";
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<test::subprocess>> nodes_;
};

struct round_figures {
  std::vector<double> kill_served, kill_others_gap, kill_settled,
    kill_total_gap, join_gap;
  std::vector<double> stop_served, stop_gap, stop_return;
  std::vector<double> pause_served;
};

// Restarts node i and returns the longest gap of any partition meanwhile.
double rejoin(failover_cluster& c, int i) {
  auto t0 = now_ns();
  c.start(i);
  c.settle();
  auto t1 = now_ns();
  return failover_cluster::longest_gap(c.read_probes(), all_partitions(), t0,
                                      t1);
}

void kill_round(failover_cluster& c, int i, round_figures& f) {
  auto mine = c.partitions_of(i);
  c.node(i).kill();
  auto t0 = now_ns();
  auto served = c.wait_served(mine, t0, c.id(i));
  std::set<int> others;
  for (int p = 0; p < partitions; ++p)
    if (!mine.count(p))
      others.insert(p);
  // The others' gaps: observed until each was served after the dead
  // node's partitions were (a rebalance that stopped them ends before).
  auto end = c.wait_served(others, served);
  f.kill_served.push_back(seconds(served - t0));
  f.kill_others_gap.push_back(
    failover_cluster::longest_gap(c.read_probes(), others, t0, end));
  // Then the group evicts the dead node and assigns its partitions: a
  // taker hands them on (the gap of that second move counts here).
  auto settled = c.settle(i);
  f.kill_settled.push_back(seconds(settled - t0));
  f.kill_total_gap.push_back(failover_cluster::longest_gap(
    c.read_probes(), all_partitions(), t0, now_ns()));
  f.join_gap.push_back(rejoin(c, i));
}

void stop_round(failover_cluster& c, int i, round_figures& f) {
  auto mine = c.partitions_of(i);
  auto t0 = now_ns();
  auto bye = ask(c.node(i), "quit", round_deadline);
  auto returned = now_ns();
  if (bye != "bye")
    throw std::runtime_error{"a stopping node answered '" + bye + "'"};
  c.node(i).wait();
  auto served = c.wait_served(mine, t0, c.id(i));
  f.stop_served.push_back(seconds(served - t0));
  f.stop_gap.push_back(
    failover_cluster::longest_gap(c.read_probes(), mine, t0, served));
  f.stop_return.push_back(seconds(returned - t0));
  f.join_gap.push_back(rejoin(c, i));
}

void pause_round(failover_cluster& c, int i, round_figures& f) {
  auto mine = c.partitions_of(i);
  auto& n = c.node(i);
  n.signal(SIGSTOP);
  auto stop_deadline = std::chrono::steady_clock::now() + round_deadline;
  while (!n.stopped()) {
    if (std::chrono::steady_clock::now() > stop_deadline)
      throw std::runtime_error{"a node did not stop on SIGSTOP"};
    std::this_thread::sleep_for(1ms);
  }
  auto t0 = now_ns();
  auto served = c.wait_served(mine, t0, c.id(i));
  f.pause_served.push_back(seconds(served - t0));
  n.signal(SIGCONT);
  c.settle();
}

figures cluster_failover(const bench_options& o) {
  auto rounds = std::stoi(env_or("PERDURE_BENCH_ROUNDS", "5"));
  failover_cluster c{o};
  round_figures r;
  for (int k = 0; k < rounds; ++k) {
    kill_round(c, k % node_count, r);
    stop_round(c, (k + 1) % node_count, r);
    pause_round(c, (k + 2) % node_count, r);
  }
  for (int i = 0; i < node_count; ++i)
    static_cast<void>(ask(c.node(i), "quit", round_deadline));
  figures f;
  auto both = [&](const std::string& key, const std::vector<double>& v) {
    f.add(key + "_median", median(v));
    f.add(key + "_max", v.empty() ? 0 : *std::max_element(v.begin(), v.end()));
  };
  both("kill_served_s", r.kill_served);
  both("kill_others_gap_s", r.kill_others_gap);
  both("kill_settled_s", r.kill_settled);
  both("kill_any_gap_s", r.kill_total_gap);
  both("stop_served_s", r.stop_served);
  both("stop_gap_s", r.stop_gap);
  both("stop_return_s", r.stop_return);
  both("pause_served_s", r.pause_served);
  both("join_gap_s", r.join_gap);
  f.add("rounds", rounds);
  f.add("correct", 1); // every round met its deadline (else it threw)
  return f;
}

PERDURE_WORKLOAD("cluster-failover",
                 "partitions unserved after a SIGKILL, a clean stop, a "
                 "SIGSTOP and a rejoin: 3 engine_host node processes on the 3-broker mock, "
                 "session.timeout.ms 3000",
                 cluster_failover);

} // namespace

} // namespace perdure::bench
