// SPDX-License-Identifier: Apache-2.0
#pragma once

// A small metrics registry: atomic counters, gauges and histograms, plus
// callbacks read at scrape time, rendered in the Prometheus text exposition
// format 0.0.4. Each engine owns one (`engine::metrics()`); with
// `engine_options::metrics_address` set it is served on GET /metrics.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace perdure::metrics {

/// Label names and values of one series, e.g. {{"status", "running"}}.
using labels = std::vector<std::pair<std::string, std::string>>;

/// A monotonically increasing count. Lock-free; thread-safe.
class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down. Lock-free; thread-safe.
class gauge {
 public:
  void set(double v) noexcept {
    value_.store(v, std::memory_order_relaxed);
  }
  void add(double d) noexcept {
    value_.fetch_add(d, std::memory_order_relaxed);
  }
  double value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<double> value_{0};
};

/// Observations counted into fixed buckets, with their sum. Lock-free;
/// thread-safe. A scrape sees each bucket's count atomically, not the
/// whole histogram: the exposed `_count` is the sum of the buckets, so it
/// always equals the `+Inf` bucket.
class histogram {
 public:
  /// @pre `upper_bounds` is strictly increasing and has no +Inf (implied).
  explicit histogram(std::vector<double> upper_bounds);

  void observe(double v) noexcept;

  const std::vector<double>& upper_bounds() const noexcept {
    return bounds_;
  }
  /// Non-cumulative counts per bucket; the last one is the +Inf bucket.
  std::vector<std::uint64_t> bucket_counts() const;
  double sum() const noexcept {
    return sum_.load(std::memory_order_relaxed);
  }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

/// Bucket bounds in seconds from 50 µs to 10 s, for latencies.
std::vector<double> latency_buckets();

/// What a metric family is, as in `# TYPE`.
enum class kind { counter, gauge, histogram };

/// One series a callback reports at scrape time.
struct sample {
  metrics::labels labels;
  double value = 0;
};

class registry;

/// One registry's part of a merged exposition (metrics::expose).
struct exposition_part {
  const registry* source = nullptr;
  /// Labels added after each series' own (e.g. partition="3").
  labels extra = {};
};

/// The series of every part in one exposition (text format 0.0.4),
/// families sorted by name: a family found in several parts is written
/// once, with the HELP and TYPE of the first part that has it, and every
/// part's series, each with its part's extra labels. A later part's
/// family of another kind under the same name is left out. For a process
/// that serves several engines on one /metrics (a cluster node: one
/// engine per partition, labelled by partition).
std::string expose(std::span<const exposition_part> parts);

/// The metrics of one engine. Metric names follow Prometheus rules
/// (`[a-zA-Z_:][a-zA-Z0-9_:]*`); counters should end in `_total`. Getting a
/// metric that exists (same name and labels) returns it, so modules may
/// ask again instead of keeping references; asking for a name with another
/// kind is a programming error (`std::logic_error`). References stay valid
/// as long as the registry. All member functions are thread-safe.
class registry {
 public:
  registry();
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  counter& get_counter(std::string_view name, std::string_view help,
                       const labels& ls = {});
  gauge& get_gauge(std::string_view name, std::string_view help,
                   const labels& ls = {});
  histogram& get_histogram(std::string_view name, std::string_view help,
                           std::vector<double> upper_bounds,
                           const labels& ls = {});

  /// Adds a family of `k` (counter or gauge) whose series `fn` reports at
  /// each scrape (e.g. Kafka lag, log statistics). `fn` runs on the
  /// scraping thread while the registry is locked: it must be quick and
  /// must not use this registry. Returns an id for remove_callback.
  std::uint64_t add_callback(std::string_view name, std::string_view help,
                             kind k, std::function<std::vector<sample>()> fn);

  /// Removes a callback; once it returns the callback no longer runs. Must
  /// not be called while holding a lock that callback takes.
  void remove_callback(std::uint64_t id);

  /// Every metric in the text exposition format 0.0.4, families sorted by
  /// name, with `# HELP` and `# TYPE` lines.
  std::string expose() const;

 private:
  struct family;
  struct rendered; // a family's text as metrics::expose merges it
  family& family_of(std::string_view name, std::string_view help, kind k);
  // Adds this registry's families to `into`, `extra` after each series'
  // labels.
  void render(std::map<std::string, rendered>& into,
              const labels& extra) const;
  friend std::string expose(std::span<const exposition_part> parts);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<family>> families_;
  std::uint64_t next_callback_ = 1;
};

/// `v` with `\`, `"` and newlines escaped, for a label value.
std::string escape_label_value(std::string_view v);

} // namespace perdure::metrics
