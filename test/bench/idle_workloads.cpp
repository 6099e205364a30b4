// SPDX-License-Identifier: Apache-2.0
// idle-waits: the CPU an engine spends while many workflows wait for a
// signal that does not come (orders waiting for a payment): its checks for
// cancels logged by another process and its signal source's polls. The
// same-run baseline is the same engine before any workflow started; the
// figure is the difference per waiting workflow. Then 100 of them get
// their signal, one at a time: the latency from engine::signal to the
// workflow's end beside all the other waits. Last, the engine closes with
// the rest still waiting (a deploy's restart): how long that takes, and
// whether every workflow stopped within its grace time.

#include "bench.hpp"
#include "engine_opts.hpp"

#include <perdure/perdure.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace perdure::bench {

namespace {

using clock_type = std::chrono::steady_clock;

int iw_finish_impl(int v) {
  return v + 1;
}
const auto iw_finish = step("bench_idle_finish", iw_finish_impl);

flow<int> iw_wait_impl(int) {
  return iw_finish(wait_for_signal<int>("go"));
}
const auto iw_wait = step("bench_idle_wait", iw_wait_impl);

// CPU milliseconds per second of this process over `secs` of idling.
double idle_cpu_ms_per_s(double secs) {
  auto c0 = process_cpu_s();
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  return (process_cpu_s() - c0) * 1e3 / seconds_since(t0);
}

figures idle_waits(const bench_options& o) {
  int waits = 20000;
  if (const char* env = std::getenv("PERDURE_BENCH_WAITS"))
    waits = std::max(1, std::atoi(env));
  constexpr int signaled = 100;
  // Warnings of workflows that did not stop within the grace time.
  auto not_stopped = std::make_shared<std::atomic<int>>(0);
  auto opts = engine_opts(o, "idle-waits");
  opts.log = [not_stopped](eventlog::log_level l, std::string_view m) {
    if (l >= eventlog::log_level::warning
        && m.find("did not end") != std::string_view::npos)
      ++*not_stopped;
  };
  engine eng{std::move(opts)};
  const double window = std::max(2.0, o.seconds);
  // (Two polls of the default 500 ms interval at least, in both phases.)
  double empty = idle_cpu_ms_per_s(window);
  std::vector<handle<int>> checked;
  auto t0 = clock_type::now();
  for (int i = 0; i < waits; ++i) {
    auto h = eng.run_async(iw_wait(i), "idle/" + std::to_string(i));
    if (i < signaled)
      checked.push_back(std::move(h));
  }
  // Every wait armed and idle (the source looked and found no signal).
  auto& ready = eng.metrics().get_gauge("perdure_signal_waits_ready", "", {});
  auto limit = clock_type::now() + std::chrono::minutes{2};
  while (ready.value() < waits && clock_type::now() < limit)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  bool armed = ready.value() >= waits;
  double start_s = seconds_since(t0);
  double busy = idle_cpu_ms_per_s(window);
  // One at a time, each once its wait is ready: the price of a signal
  // beside all those waits.
  int ok = 0;
  latencies lat;
  for (int i = 0; i < signaled; ++i) {
    auto s = clock_type::now();
    eng.signal("idle/" + std::to_string(i), "go", i);
    ok += checked[static_cast<std::size_t>(i)].get() == i + 1;
    lat.add(clock_type::now() - s);
  }
  auto c0 = clock_type::now();
  auto closed = eng.close();
  double close_s = seconds_since(c0);
  figures f;
  f.add("waits", waits);
  f.add("start_s", start_s);
  f.add("empty_cpu_ms_per_s", empty);
  f.add("idle_cpu_ms_per_s", busy);
  f.add("us_per_wait_per_s", (busy - empty) * 1e3 / waits);
  f.add("signal_to_end_p50_us", lat.quantile_us(0.5));
  f.add("close_s", close_s);
  f.add("correct",
        armed && ok == signaled && closed && not_stopped->load() == 0 ? 1
                                                                      : 0);
  return f;
}

} // namespace

PERDURE_WORKLOAD("idle-waits",
                 "CPU of an engine while 20,000 workflows wait for a signal "
                 "(PERDURE_BENCH_WAITS to change), vs the same engine empty",
                 idle_waits);

} // namespace perdure::bench
