// SPDX-License-Identifier: Apache-2.0
// Cluster workloads: the Kafka log (cluster/kafka_log.hpp) through
// librdkafka's mock cluster with 3 brokers, in this process.
// cluster-append: sequential append -> read-back latency (what one
// sequential step of a workflow costs in cluster mode) and pipelined
// append throughput. Same-run baseline: fsync-floor.
//
// PERDURE_BENCH_LINGER_MS and PERDURE_BENCH_FETCH_WAIT_MS override the
// log's linger.ms and fetch.wait.max.ms (tuning); PERDURE_BENCH_RECORD
// sets the record size (default 256 bytes).

#include "bench.hpp"

#include "perdure/cluster/kafka_log.hpp"
#include "perdure/listeners/kafka.hpp"

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <sys/resource.h>

namespace perdure::bench {

namespace {

using namespace std::chrono_literals;
using cluster::log_offset;

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto tv = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return tv(u.ru_utime) + tv(u.ru_stime);
}

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

PERDURE_WORKLOAD("cluster-append",
                 "Kafka log on the 3-broker mock: sequential append -> "
                 "read-back latency, pipelined appends/s",
                 cluster_append);

} // namespace

} // namespace perdure::bench
