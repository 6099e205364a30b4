// SPDX-License-Identifier: Apache-2.0
// cluster-children: parents that each wait for one child workflow, run one
// after another on one engine_host (2 partitions, the 3-broker in-process
// mock): the child in the parent's partition (routing key "p-N/c"), then
// in the other partition (started through child_start, followed through
// the host, its end hinted back: docs/cluster.md "Child workflows of
// another partition"). Same-run baseline: the local child. A third set
// has children that take 400 ms: what the parent waits beyond them is
// how late it learns of their end (a hint, or without one the next look
// after pauses that grew to hundreds of ms).

#include "bench.hpp"
#include "cluster_bench_host.hpp"
#include "partition_ids.hpp"
#include "perdure/listeners/kafka.hpp"

#include <thread>

namespace perdure::bench {

namespace {

using namespace std::chrono_literals;

constexpr int rounds = 100;
constexpr int slow_rounds = 5;
constexpr auto slow_child = 400ms;

const auto cc_inc = step("cluster_children_inc", [](int x) { return x + 1; });

const auto cc_slow = step("cluster_children_slow", [](int x) {
  std::this_thread::sleep_for(slow_child); // the child's work
  return x + 1;
});

using test::id_in;

} // namespace

figures cluster_children(const bench_options& o) {
  kafka_mock_cluster mock{3};
  ok_or_throw(mock.create_topic(cluster::kafka_log_topic("bench-kids"), 2, 3));
  auto ho = in_process_host(mock.bootstrap(), o.dir / "node", "bench-kids");
  ho.separator = '/';
  auto started = cluster::engine_host::start(std::move(ho));
  ok_or_throw(started ? status{} : started.error());
  auto& host = **started;
  wait_for([&] { return host.running().size() == 2; },
           "cluster-children: the node led no 2 partitions");
  const auto& map = host.routing();
  auto eng = host.engine_of(0);
  int wrong = 0;
  // Runs `n` parents of partition 0, parent k's child id made by
  // `child_id(parent, k)`; seconds per parent.
  auto run = [&](const std::string& set, int n, auto&& child_id, auto&& body) {
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < n; ++k) {
      auto parent = id_in(map, 0, set + "-", k);
      auto out =
          eng->try_run(cc_inc(child(body(k), child_id(parent, k))), parent);
      wrong += !out || *out != k + 2;
    }
    return seconds_since(t0) / n;
  };
  auto local = [](const std::string& parent, int) { return parent + "/c"; };
  auto remote = [&](const std::string& parent, int k) {
    return id_in(map, 1, parent.substr(0, parent.find('-')) + "c-", k);
  };
  auto quick = [](int k) { return cc_inc(k); };
  auto slow = [](int k) { return cc_slow(k); };
  run("warm", 3, local, quick); // the engines' first groups
  run("warmr", 3, remote, quick);
  figures f;
  auto cpu0 = process_cpu_s();
  double l = run("local", rounds, local, quick);
  auto cpu1 = process_cpu_s();
  double r = run("remote", rounds, remote, quick);
  auto cpu2 = process_cpu_s();
  double s = run("slow", slow_rounds, remote, slow);
  f.add("parents", rounds);
  f.add("local_child_ms_per_parent", l * 1e3);
  f.add("remote_child_ms_per_parent", r * 1e3);
  f.add("ratio_remote_to_local", r / l);
  f.add("local_cpu_us_per_parent", (cpu1 - cpu0) * 1e6 / rounds);
  f.add("remote_cpu_us_per_parent", (cpu2 - cpu1) * 1e6 / rounds);
  f.add("slow_child_ms",
        std::chrono::duration<double, std::milli>(slow_child).count());
  f.add("slow_remote_parent_ms", s * 1e3);
  f.add("correct", wrong == 0 ? 1 : 0);
  host.stop();
  return f;
}

PERDURE_WORKLOAD("cluster-children",
                 "parents waiting for one child each on one engine_host (2 "
                 "partitions, 3-broker mock): the child in the parent's "
                 "partition vs in the other one",
                 cluster_children);

} // namespace perdure::bench
