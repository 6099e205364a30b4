// SPDX-License-Identifier: Apache-2.0
// Cluster workloads: the Kafka log (cluster/kafka_log.hpp) through
// librdkafka's mock cluster with 3 brokers, in this process.
// cluster-append: sequential append -> read-back latency (what one
// sequential step of a workflow costs in cluster mode) and pipelined
// append throughput. Same-run baseline: fsync-floor.
// cluster-seq: wf-seq (1000 sequential trivial steps) on an engine whose
// event log is a cluster node's partition store (engine_options::
// event_log = node::store(p)): every step's group goes through the Kafka
// log and is answered once read back and applied. Same-run baselines:
// fsync-floor and cluster-append's sequential append -> read-back.
//
// PERDURE_BENCH_LINGER_MS and PERDURE_BENCH_FETCH_WAIT_MS override the
// log's linger.ms and fetch.wait.max.ms (tuning); PERDURE_BENCH_RECORD
// sets the record size (default 256 bytes).

#include "bench.hpp"

#include "perdure/cluster/kafka_log.hpp"
#include "perdure/cluster/node.hpp"
#include "perdure/listeners/kafka.hpp"

#include <perdure/perdure.hpp>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <sys/resource.h>
#include <thread>

namespace perdure::bench {

namespace {

using namespace std::chrono_literals;
using cluster::log_offset;

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string{v} : fallback;
}

// One append's answer, awaited.
struct answer {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  result<log_offset> r{log_offset{-1}};
};

figures cluster_append(const bench_options& o) {
  auto linger = env_or("PERDURE_BENCH_LINGER_MS", "0");
  auto fetch_wait = env_or("PERDURE_BENCH_FETCH_WAIT_MS", "1");
  auto size = std::stoul(env_or("PERDURE_BENCH_RECORD", "256"));
  kafka_mock_cluster mock{3};
  ok_or_throw(mock.create_topic(cluster::kafka_log_topic("bench"), 2, 3));
  auto opened = cluster::kafka_log::open(
      {.brokers = mock.bootstrap(),
       .app = "bench",
       .properties = {{"linger.ms", linger},
                      {"fetch.wait.max.ms", fetch_wait}},
       .log = [](eventlog::log_level, std::string_view) {}});
  ok_or_throw(opened ? status{} : opened.error());
  auto& log = **opened;
  std::string record(size, 'r');

  // Sequential: append, await the offset, read the record back.
  auto& p0 = log.partition(0);
  latencies ack, step;
  double budget = o.seconds / 2;
  auto t0 = std::chrono::steady_clock::now();
  auto cpu0 = process_cpu_s();
  std::size_t steps = 0;
  while (steps < 50 || (seconds_since(t0) < budget && steps < 100'000)) {
    auto s0 = std::chrono::steady_clock::now();
    answer a;
    p0.append(record, [&a](result<log_offset> r) {
      std::lock_guard g{a.m};
      a.r = std::move(r);
      a.done = true;
      a.cv.notify_all();
    });
    {
      std::unique_lock g{a.m};
      if (!a.cv.wait_for(g, 30s, [&] { return a.done; }))
        throw std::runtime_error{"append not answered in 30 s"};
    }
    ok_or_throw(a.r ? status{} : a.r.error());
    auto s1 = std::chrono::steady_clock::now();
    for (;;) {
      auto got = p0.read(*a.r, 1, 5s);
      ok_or_throw(got ? status{} : got.error());
      if (!got->empty() && got->front().offset == *a.r)
        break;
    }
    ack.add(s1 - s0);
    step.add(std::chrono::steady_clock::now() - s0);
    ++steps;
  }
  double seq_s = seconds_since(t0);
  double seq_cpu = process_cpu_s() - cpu0;

  // Idle: a reader waiting at the end of the log for 0.5 s. The mock
  // answers an empty fetch after fetch.wait.max.ms even when a record
  // arrives meanwhile, so a small value buys read-back latency with
  // fetches in a loop: this is their CPU cost (a real broker answers a
  // waiting fetch as soon as a record arrives).
  auto end = p0.end_offset(10s);
  ok_or_throw(end ? status{} : end.error());
  cpu0 = process_cpu_s();
  auto idle0 = std::chrono::steady_clock::now();
  auto none = p0.read(*end, 1, 500ms);
  ok_or_throw(none ? status{} : none.error());
  double idle_cpu_pct =
      (process_cpu_s() - cpu0) / seconds_since(idle0) * 100;

  // Pipelined: up to `window` appends awaiting their answer.
  auto& p1 = log.partition(1);
  constexpr std::size_t window = 2000;
  std::mutex m;
  std::condition_variable cv;
  std::size_t answered = 0, failed = 0, sent = 0;
  auto done = [&](result<log_offset> r) {
    std::lock_guard g{m};
    ++answered;
    failed += r ? 0 : 1;
    cv.notify_all();
  };
  t0 = std::chrono::steady_clock::now();
  cpu0 = process_cpu_s();
  while (seconds_since(t0) < budget || sent < 1000) {
    {
      std::unique_lock g{m};
      cv.wait(g, [&] { return sent - answered < window; });
    }
    p1.append(record, done);
    ++sent;
  }
  {
    std::unique_lock g{m};
    if (!cv.wait_for(g, 60s, [&] { return answered == sent; }))
      throw std::runtime_error{"pipelined appends not answered in 60 s"};
  }
  double pipe_s = seconds_since(t0);
  double pipe_cpu = process_cpu_s() - cpu0;
  log.close();

  figures f;
  f.add("linger_ms", std::stod(linger));
  f.add("fetch_wait_max_ms", std::stod(fetch_wait));
  f.add("record_bytes", static_cast<double>(size));
  f.add("seq_steps", static_cast<double>(steps));
  f.add("seq_ack_p50_us", ack.quantile_us(0.5));
  f.add("seq_ack_p99_us", ack.quantile_us(0.99));
  f.add("seq_step_p50_us", step.quantile_us(0.5));
  f.add("seq_step_p99_us", step.quantile_us(0.99));
  f.add("seq_steps_per_s", steps / seq_s);
  f.add("seq_cpu_us_per_step", seq_cpu / steps * 1e6);
  f.add("idle_reader_cpu_pct", idle_cpu_pct);
  f.add("pipelined_appends_per_s", sent / pipe_s);
  f.add("pipelined_cpu_us_per_append", pipe_cpu / sent * 1e6);
  f.add("correct", failed == 0 ? 1 : 0);
  fsync_floor(o, f); // the same-run baseline
  return f;
}

const auto cs_inc = step("cluster_seq_inc", [](int x) { return x + 1; });

bool leads_first(const cluster::node& n) {
  auto parts = n.partitions();
  return !parts.empty() && parts[0].role == cluster::owner_role::leader;
}

figures cluster_seq(const bench_options& o) {
  constexpr int steps = 1000;
  kafka_mock_cluster mock{3};
  ok_or_throw(mock.create_topic(cluster::kafka_log_topic("bench-seq"), 1, 3));
  cluster::node_options no;
  no.log = {.brokers = mock.bootstrap(),
            .app = "bench-seq",
            .properties = {{"linger.ms", env_or("PERDURE_BENCH_LINGER_MS",
                                                "0")},
                           {"fetch.wait.max.ms",
                            env_or("PERDURE_BENCH_FETCH_WAIT_MS", "1")}},
            .log = [](eventlog::log_level, std::string_view) {}};
  no.node_id = "bench";
  no.topic_configs_wait = {}; // the mock answers no DescribeConfigs
  no.idle_wait = std::chrono::milliseconds{
    std::stoi(env_or("PERDURE_BENCH_IDLE_WAIT_MS", "1"))};
  no.store.dir = o.dir / "node";
  no.group_properties = {{"session.timeout.ms", "3000"},
                         {"heartbeat.interval.ms", "1000"}};
  auto started = cluster::node::start(std::move(no));
  ok_or_throw(started ? status{} : started.error());
  auto& n = **started;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!leads_first(n)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error{"the node did not lead partition 0 in 60 s"};
    std::this_thread::sleep_for(5ms);
  }

  figures f;
  {
    engine_options eo;
    eo.event_log = n.store(0);
    engine eng{std::move(eo)};
    auto wf = cs_inc(0);
    for (int i = 1; i < steps; ++i)
      wf = cs_inc(wf);
    // One step first: the first group also makes the engine's setup
    // durable, it is not what a step costs.
    ok_or_throw(eng.run(cs_inc(0), "warm") == 1
                  ? status{}
                  : status{errc::io, "warm-up workflow: wrong output"});
    auto cpu0 = process_cpu_s();
    auto t0 = std::chrono::steady_clock::now();
    int out = eng.run(wf, "seq");
    double s = seconds_since(t0);
    double cpu = process_cpu_s() - cpu0;
    auto st = eng.event_log()->stats();
    f.add("steps", steps);
    f.add("seconds", s);
    f.add("us_per_step", s * 1e6 / steps);
    f.add("cpu_us_per_step", cpu * 1e6 / steps);
    f.add("commits", static_cast<double>(st.commits));
    f.add("correct", out == steps ? 1 : 0);
  }
  n.stop();
  fsync_floor(o, f); // the same-run baseline
  return f;
}

PERDURE_WORKLOAD("cluster-seq",
                 "wf-seq (1000 sequential steps) on a cluster node's "
                 "partition store: each step through the Kafka log (3-broker "
                 "mock) and applied",
                 cluster_seq);

PERDURE_WORKLOAD("cluster-append",
                 "Kafka log on the 3-broker mock: sequential append -> "
                 "read-back latency, pipelined appends/s",
                 cluster_append);

} // namespace

} // namespace perdure::bench
