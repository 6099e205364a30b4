// SPDX-License-Identifier: Apache-2.0
// cluster-throughput: one-step workflows through engine_host nodes, each a
// perdure-bench-node process, on perdure-mock-kafka (3 brokers, a log
// topic of 8 partitions), with 1, 2 and 3 nodes on this machine in the
// same run. Each node runs 16 callers on the ids of the partitions it
// leads (what routing each id to its owner gives); figures per node
// count: workflows/s, CPU per workflow (the nodes' and the mock's), CPU
// per node, latency p50/p99 (the worst node's).
//
// PERDURE_BENCH_NODES: the node counts, e.g. "1" (default "1,2,3");
// PERDURE_BENCH_FETCH_WAIT_MS: the nodes' fetch.wait.max.ms (default 1).
// PERDURE_BENCH_STANDBYS: the nodes' standby_replicas (default: unset,
// every node tails every partition).

#include "bench.hpp"

#include "cluster_bench_nodes.hpp"
#include "kafka_mock_process.hpp"

#include <fmt/format.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace perdure::bench {

namespace {

using namespace std::chrono_literals;
constexpr int partitions = 8;

// User + system CPU of process `pid`, in microseconds.
double process_cpu_us(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat;
  std::getline(in, stat);
  auto close = stat.rfind(')');
  if (close == std::string::npos)
    throw std::runtime_error{"no /proc stat for pid " + std::to_string(pid)};
  std::istringstream rest{stat.substr(close + 2)};
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stod(field);
    if (i == 15)
      stime = std::stod(field);
  }
  return (utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Adds the figures of `count` nodes; false when a workflow failed.
bool run_nodes(const bench_options& o, int count, figures& f) {
  test::kafka_mock_process mock{{"--brokers", "3"}};
  auto app = fmt::format("tp{}", count);
  auto made = mock.command(fmt::format("topic perdure.{}.log {}", app,
                                       partitions));
  if (made != "ok")
    throw std::runtime_error{"mock topic: " + made};
  std::vector<std::unique_ptr<test::subprocess>> nodes;
  auto standbys = env_or("PERDURE_BENCH_STANDBYS", "");
  for (int i = 0; i < count; ++i) {
    auto id = fmt::format("n{}", i + 1);
    std::vector<std::string> argv{
      PERDURE_BENCH_NODE, "--brokers", mock.bootstrap(), "--app", app,
      "--id", id, "--dir", (o.dir / app / id).string(), "--fetch-wait-ms",
      env_or("PERDURE_BENCH_FETCH_WAIT_MS", "1")};
    if (!standbys.empty()) {
      argv.push_back("--standbys");
      argv.push_back(standbys);
    }
    nodes.push_back(std::make_unique<test::subprocess>(
      argv, test::subprocess_options{.pipe_stdin = true}));
  }
  // Every partition has its engine somewhere.
  auto deadline = std::chrono::steady_clock::now() + 120s;
  for (;;) {
    int running = 0;
    for (auto& n : nodes)
      running += std::stoi(ask(*n, "running", 30s).substr(8));
    if (running == partitions)
      break;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error{"the partitions did not all get an engine"};
    std::this_thread::sleep_for(100ms);
  }
  auto ms = static_cast<long>(o.seconds * 1000);
  auto mock0 = process_cpu_us(mock.pid());
  for (auto& n : nodes)
    if (!n->send_line(fmt::format("go {}", ms)))
      throw std::runtime_error{"a bench node closed its input"};
  double workflows = 0, errors = 0, node_cpu = 0, p50 = 0, p99 = 0;
  for (auto& n : nodes) {
    auto line = n->read_line(std::chrono::milliseconds{ms} + 120s);
    std::istringstream in{line};
    std::string word;
    double w = 0, e = 0, a = 0, b = 0, c = 0;
    if (!(in >> word >> w >> e >> a >> b >> c) || word != "done")
      throw std::runtime_error{"a bench node answered '" + line + "'"};
    workflows += w;
    errors += e;
    node_cpu += c;
    p50 = std::max(p50, a);
    p99 = std::max(p99, b);
  }
  auto mock_cpu = process_cpu_us(mock.pid()) - mock0;
  for (auto& n : nodes)
    static_cast<void>(ask(*n, "quit", 120s));
  for (auto& n : nodes)
    n->wait();
  auto key = fmt::format("nodes{}_", count);
  double secs = static_cast<double>(ms) / 1000.0;
  f.add(key + "workflows_per_s", workflows / secs);
  f.add(key + "p50_us", p50);
  f.add(key + "p99_us", p99);
  f.add(key + "node_cpu_us_per_wf", workflows ? node_cpu / workflows : 0);
  f.add(key + "mock_cpu_us_per_wf", workflows ? mock_cpu / workflows : 0);
  f.add(key + "cpu_pct_per_node", node_cpu / count / (secs * 1e6) * 100);
  f.add(key + "mock_cpu_pct", mock_cpu / (secs * 1e6) * 100);
  f.add(key + "errors", errors);
  return errors == 0 && workflows > 0;
}

figures cluster_throughput(const bench_options& o) {
  figures f;
  std::istringstream list{env_or("PERDURE_BENCH_NODES", "1,2,3")};
  std::string item;
  bool ok = true;
  while (std::getline(list, item, ','))
    ok = run_nodes(o, std::stoi(item), f) && ok;
  f.add("partitions", partitions);
  f.add("correct", ok ? 1 : 0);
  return f;
}

PERDURE_WORKLOAD("cluster-throughput",
                 "one-step workflows from 16 callers per node through 1, 2 "
                 "and 3 engine_host node processes on the 3-broker mock",
                 cluster_throughput);

} // namespace

} // namespace perdure::bench
