// SPDX-License-Identifier: Apache-2.0
// signal-roundtrip: the latency from engine::signal to the step that waited
// for the signal running, one signal at a time, sent once the wait is
// armed (gauge perdure_signal_waits_ready): the signal, its consumption
// and the next step's start in one commit (the direct path), against the
// same run's fsync floor.

#include "bench.hpp"
#include "engine_opts.hpp"

#include <perdure/perdure.hpp>

#include <atomic>
#include <chrono>
#include <thread>

namespace perdure::bench {

namespace {

using clock_type = std::chrono::steady_clock;

std::atomic<int> resumed{0};
std::atomic<std::int64_t> resumed_at{0}; ///< steady ns of the last resume

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           clock_type::now().time_since_epoch())
    .count();
}

flow<int> sr_loop_impl(int v, int n);
const auto sr_loop = step("bench_signal_loop", sr_loop_impl);

// Runs once per signal received (v >= 0), then waits for the next one.
flow<int> sr_loop_impl(int v, int n) {
  if (v >= 0) {
    resumed_at = steady_ns();
    resumed.fetch_add(1);
    resumed.notify_all();
  }
  if (n == 0)
    return v;
  return sr_loop(wait_for_signal<int>("ping"), n - 1);
}

figures signal_roundtrip(const bench_options& o) {
  constexpr int signals = 300;
  engine eng{engine_opts(o, "signal-roundtrip")};
  resumed = 0;
  auto h = eng.run_async(sr_loop(-1, signals), "rt");
  auto& ready = eng.metrics().get_gauge("perdure_signal_waits_ready", "", {});
  latencies lat;
  auto t0 = clock_type::now();
  for (int i = 0; i < signals; ++i) {
    // Once the wait is armed (not counted; the first signal creates the
    // signal stream and is stored first).
    auto limit = clock_type::now() + std::chrono::seconds{5};
    while (i > 0 && ready.value() < 1 && clock_type::now() < limit)
      std::this_thread::yield();
    auto s = steady_ns();
    eng.signal("rt", "ping", i);
    for (int seen = resumed.load(); seen < i + 1; seen = resumed.load())
      resumed.wait(seen);
    lat.add(std::chrono::nanoseconds{resumed_at.load() - s});
  }
  double secs = seconds_since(t0);
  int out = h.get();
  figures f;
  f.add("signals", signals);
  f.add("signals_per_s", signals / secs);
  f.add("p50_us", lat.quantile_us(0.5));
  f.add("p99_us", lat.quantile_us(0.99));
  f.add("correct", out == signals - 1 ? 1 : 0);
  fsync_floor(o, f);
  f.add("p50_vs_fsync_floor", f.get("p50_us") / f.get("fsync_floor_p50_us"));
  return f;
}

} // namespace

PERDURE_WORKLOAD("signal-roundtrip",
                 "engine::signal to the waiting workflow's next step "
                 "running, one at a time, vs fsync-floor",
                 signal_roundtrip);

} // namespace perdure::bench
