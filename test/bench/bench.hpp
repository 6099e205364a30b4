// SPDX-License-Identifier: Apache-2.0
#pragma once

// The perdure-bench runner: named workloads that print their figures, as one
// JSON object with --json. Workloads register themselves from their own files
// with PERDURE_WORKLOAD.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/types.hpp"

#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace perdure::bench {

/// Options every workload receives.
struct bench_options {
  eventlog::durability mode = eventlog::durability::sync;
  /// How sync commits reach the disk (workloads that open an engine).
  eventlog::sync_policy sync = eventlog::sync_policy::journal;
  /// The journal's paced write-back (engine_options::writeback_interval).
  std::chrono::milliseconds writeback{3};
  /// The journal's longest time between checkpoints
  /// (engine_options::checkpoint_interval).
  std::chrono::milliseconds checkpoint{100};
  std::filesystem::path dir; ///< a fresh directory the workload may fill
  double seconds = 2.0;      ///< the time budget of timed phases
};

/// The figures of one run, in the order they were added.
class figures {
 public:
  void add(std::string key, double value) {
    items_.emplace_back(std::move(key), value);
  }
  const std::vector<std::pair<std::string, double>>& items() const {
    return items_;
  }
  double get(const std::string& key) const;

 private:
  std::vector<std::pair<std::string, double>> items_;
};

struct workload {
  std::string name;
  std::string description;
  std::function<figures(const bench_options&)> run;
};

bool register_workload(workload w);
const std::vector<workload>& workloads();

/// Latency samples in nanoseconds.
class latencies {
 public:
  void add(std::chrono::nanoseconds d) {
    ns_.push_back(d.count());
  }
  void merge(const latencies& other) {
    ns_.insert(ns_.end(), other.ns_.begin(), other.ns_.end());
  }
  std::size_t size() const {
    return ns_.size();
  }
  /// The q-quantile (0..1) in microseconds.
  double quantile_us(double q);

 private:
  std::vector<std::int64_t> ns_;
  bool sorted_ = false;
};

/// The journal's checkpoints in `st` over `elapsed` seconds: adds
/// `prefix`checkpoints_per_s and, when there were any, checkpoint_mean_ms
/// and checkpoint_max_ms (the time a checkpoint holds the commit path).
void add_checkpoint_figures(figures& f, const eventlog::log_stats& st,
                            double elapsed, const std::string& prefix = "");

/// The same-run baseline of sync durability: adds fsync_floor_p50_us and
/// fsync_floor_p99_us, the latency of appending 4 KiB to a file in `o.dir`
/// and fdatasync-ing it, for `o.seconds / 2` (at least 50 samples). Run it
/// after the measured phase.
void fsync_floor(const bench_options& o, figures& f);

/// CPU seconds of this process (all threads, user + system): on a machine
/// shared with other work, CPU per record is steadier than wall time, and
/// with 2 cores the wall-clock ceiling is about 2 / (CPU per record).
inline double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto tv = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return tv(u.ru_utime) + tv(u.ru_stime);
}

/// Seconds since `t0`.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
    .count();
}

} // namespace perdure::bench

#define PERDURE_BENCH_CAT2(a, b) a##b
#define PERDURE_BENCH_CAT(a, b) PERDURE_BENCH_CAT2(a, b)
/// Registers a workload: PERDURE_WORKLOAD("name", "what it measures", fn).
#define PERDURE_WORKLOAD(name, description, fn)                                \
  static const bool PERDURE_BENCH_CAT(perdure_workload_, __LINE__) =           \
    ::perdure::bench::register_workload({name, description, fn})
