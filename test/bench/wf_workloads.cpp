// SPDX-License-Identifier: Apache-2.0
// Workflow workloads of perdure-bench: wf-seq (1000 sequential trivial
// steps), wf-fanout (1000 parallel steps joined by one; -wide: 30,000),
// wf-throughput (1-step workflows from 16 concurrent callers), wf-children
// (one workflow that starts 1000 child workflows and joins them); the
// -local variants with local steps (step_options::local).

#include "bench.hpp"
#include "engine_opts.hpp"

#include <perdure/perdure.hpp>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

namespace perdure::bench {

namespace {

// Where the time goes: commits and records the engine's log wrote, per unit
// of work, and the mean time inside one commit.
void add_log_figures(const engine& eng, figures& f, double units,
                     const std::string& unit) {
  auto st = eng.event_log()->stats();
  f.add("commits_" + unit, static_cast<double>(st.commits) / units);
  f.add("records_" + unit, static_cast<double>(st.records) / units);
  f.add("records_per_commit",
        static_cast<double>(st.records) / static_cast<double>(st.commits));
  f.add("commit_mean_us", static_cast<double>(st.commit_ns_total) / 1000.0
                            / static_cast<double>(st.commits));
  if (st.syncs > 0) {
    f.add("syncs_" + unit, static_cast<double>(st.syncs) / units);
    f.add("sync_mean_us", static_cast<double>(st.sync_ns_total) / 1000.0
                            / static_cast<double>(st.syncs));
  }
  f.add("caller_commit_share", static_cast<double>(st.caller_commits)
                                 / static_cast<double>(st.commits));
}


const auto b_inc = step("bench_inc", [](int x) { return x + 1; });
const auto b_inc_local = step(
  "bench_inc_local", [](int x) { return x + 1; }, {.local = true});

// b_inc, or its local twin.
template <class X>
workflow<int> inc(X&& x, bool local) {
  return local ? b_inc_local(std::forward<X>(x)) : b_inc(std::forward<X>(x));
}
const auto b_sum = step("bench_sum", [](std::vector<int> v) {
  long s = 0;
  for (int x : v)
    s += x;
  return static_cast<int>(s);
});

// engine_opts, with engine_options::workflow_feed when `feed`.
engine_options wf_opts(const bench_options& o, const char* sub, bool feed) {
  auto opts = engine_opts(o, sub);
  opts.workflow_feed = feed;
  return opts;
}

// `feed`: with engine_options::workflow_feed (a note per workflow record);
// `local`: local steps.
figures wf_seq(const bench_options& o, bool feed, bool local = false) {
  constexpr int steps = 1000;
  engine eng{wf_opts(o, feed ? "wf-seq-feed" : "wf-seq", feed)};
  auto wf = inc(0, local);
  for (int i = 1; i < steps; ++i)
    wf = inc(wf, local);
  auto t0 = std::chrono::steady_clock::now();
  int out = eng.run(wf, "seq");
  double s = seconds_since(t0);
  figures f;
  f.add("steps", steps);
  f.add("seconds", s);
  f.add("us_per_step", s * 1e6 / steps);
  add_log_figures(eng, f, steps, "per_step");
  f.add("correct", out == steps ? 1 : 0);
  return f;
}

// Runs `once(1)` ... `once(n)` on the warm engine and, when n > 0, adds
// warm_seconds, their median; false when one of them was wrong (all run).
bool warm_runs(figures& f, int n, const std::function<bool(int)>& once) {
  bool right = true;
  latencies took;
  for (int k = 1; k <= n; ++k) {
    auto t = std::chrono::steady_clock::now();
    right = once(k) && right;
    took.add(std::chrono::steady_clock::now() - t);
  }
  if (n > 0)
    f.add("warm_seconds", took.quantile_us(0.5) / 1e6);
  return right;
}

// `seconds` is the first run on a fresh engine (it also pays the
// process's first touches: heap pages, lazily bound symbols, threads);
// `warm_seconds` the median of `warm` more runs on the same engine, as a
// service runs them.
figures wf_fanout(const bench_options& o, bool local, int width = 1000,
                  int warm = 5) {
  engine eng{engine_opts(o, "wf-fanout")};
  std::vector<workflow<int>> parts;
  for (int i = 0; i < width; ++i)
    parts.push_back(inc(i, local));
  auto wf = b_sum(parts);
  const int expected = width * (width + 1) / 2; // (< 2^31)
  auto t0 = std::chrono::steady_clock::now();
  int out = eng.run(wf, "fanout");
  double s = seconds_since(t0);
  figures f;
  f.add("steps", width + 1);
  f.add("seconds", s);
  add_log_figures(eng, f, width + 1, "per_step");
  f.add("us_per_step", s * 1e6 / (width + 1));
  bool right = out == expected && warm_runs(f, warm, [&](int k) {
    return eng.run(wf, fmt::format("fanout-{}", k)) == expected;
  });
  f.add("correct", right ? 1 : 0);
  return f;
}

figures wf_throughput(const bench_options& o, bool feed, bool local = false) {
  constexpr int callers = 16;
  engine eng{
    wf_opts(o, feed ? "wf-throughput-feed" : "wf-throughput", feed)};
  std::atomic<bool> stop{false};
  std::atomic<long> done{0}, wrong{0};
  std::vector<latencies> lat(callers);
  std::vector<std::thread> threads;
  auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < callers; ++c)
    threads.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        auto s = std::chrono::steady_clock::now();
        if (eng.run(inc(i, local)) != i + 1)
          ++wrong;
        lat[c].add(std::chrono::steady_clock::now() - s);
        ++done;
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& t : threads)
    t.join();
  double s = seconds_since(t0);
  latencies all;
  for (auto& l : lat)
    all.merge(l);
  figures f;
  f.add("callers", callers);
  f.add("workflows", static_cast<double>(done));
  f.add("workflows_per_s", done / s);
  f.add("p50_us", all.quantile_us(0.5));
  f.add("p99_us", all.quantile_us(0.99));
  add_log_figures(eng, f, static_cast<double>(done), "per_workflow");
  f.add("correct", wrong == 0 ? 1 : 0);
  return f;
}

// wf-children: one parent workflow starts 1000 child workflows, each the
// 1-step workflow b_inc(i) under its own id "<parent id>-child-<i>", and
// joins them: it sums their outputs. The parent's one step does it
// through the engine it captures: run_async for every child, then it
// waits on their handles (written before child nodes existed, and kept so
// that its figures compare with every earlier one; wf-child-nodes in
// child_workloads.cpp measures `perdure::child`). A re-run of that step
// (resume) starts nothing twice: run_async of a finished id returns its
// stored output, a stored unfinished one is resumed. The step takes no
// cpu of the step pool (it only waits), so the children's steps never
// queue behind it.
figures wf_children(const bench_options& o) {
  constexpr int children = 1000;
  constexpr std::chrono::seconds limit{60};
  engine eng{engine_opts(o, "wf-children")};
  auto parent = step(
    "bench_children",
    [&eng, limit](int n) {
      using clock = std::chrono::steady_clock;
      auto until = clock::now() + limit;
      std::vector<handle<int>> kids;
      kids.reserve(static_cast<std::size_t>(n));
      auto stopped = [] {
        if (this_step::canceled())
          throw std::runtime_error("canceled while running children");
      };
      for (int i = 0; i < n; ++i) {
        stopped();
        kids.push_back(eng.run_async(
          b_inc(i), fmt::format("{}-child-{}", this_step::workflow_id(), i)));
      }
      long sum = 0;
      for (auto& h : kids) {
        while (!h.wait_for(std::chrono::milliseconds{100})) {
          stopped();
          if (clock::now() > until)
            throw std::runtime_error(fmt::format(
              "child {} did not end within {} s", h.id(), limit.count()));
        }
        sum += h.get();
      }
      return static_cast<int>(sum);
    },
    {.max_attempts = 1, .resources = {.cpus = 0.0}});
  // One parent and its children; its output, or throws.
  auto once = [&](const std::string& id) {
    auto h = eng.run_async(parent(children), id);
    if (!h.wait_for(limit + std::chrono::seconds{10}))
      throw std::runtime_error("the parent workflow did not end within 70 s");
    return h.get(); // throws the parent's (or a child's) failure
  };
  constexpr int expected = children * (children + 1) / 2;
  auto t0 = std::chrono::steady_clock::now();
  int out = once("children");
  double s = seconds_since(t0);
  figures f;
  f.add("children", children);
  f.add("seconds", s);
  f.add("us_per_child", s * 1e6 / children);
  add_log_figures(eng, f, children, "per_child");
  // The same again on the warm engine (see wf_fanout): the median of 3.
  constexpr int warm = 3;
  bool right = out == expected && warm_runs(f, warm, [&](int k) {
    return once(fmt::format("children-{}", k)) == expected;
  });
  auto ended = eng.list({workflow_status::successful}).size();
  f.add("workflows_successful", static_cast<double>(ended));
  bool all_ended = ended == static_cast<std::size_t>(children + 1) * (1 + warm);
  f.add("correct", right && all_ended ? 1 : 0);
  if (o.mode == eventlog::durability::sync)
    fsync_floor(o, f); // the same-run baseline
  return f;
}

} // namespace

PERDURE_WORKLOAD("wf-seq", "one workflow of 1000 sequential trivial steps",
                 [](const bench_options& o) { return wf_seq(o, false); });
PERDURE_WORKLOAD("wf-seq-feed", "wf-seq with engine_options::workflow_feed",
                 [](const bench_options& o) { return wf_seq(o, true); });
PERDURE_WORKLOAD("wf-seq-local", "wf-seq with local steps",
                 [](const bench_options& o) { return wf_seq(o, false, true); });
PERDURE_WORKLOAD("wf-fanout",
                 "one workflow of 1000 parallel trivial steps and a join",
                 [](const bench_options& o) { return wf_fanout(o, false); });
PERDURE_WORKLOAD("wf-fanout-local", "wf-fanout with local steps",
                 [](const bench_options& o) { return wf_fanout(o, true); });
PERDURE_WORKLOAD("wf-fanout-wide",
                 "wf-fanout-local 30 times wider (30,000 steps): the cost per "
                 "step stays that of wf-fanout-local",
                 [](const bench_options& o) {
                   return wf_fanout(o, true, 30000, 0);
                 });
PERDURE_WORKLOAD("wf-throughput",
                 "1-step workflows from 16 concurrent callers",
                 [](const bench_options& o) { return wf_throughput(o, false); });
PERDURE_WORKLOAD("wf-throughput-local", "wf-throughput with local steps",
                 [](const bench_options& o) {
                   return wf_throughput(o, false, true);
                 });
PERDURE_WORKLOAD("wf-throughput-feed",
                 "wf-throughput with engine_options::workflow_feed",
                 [](const bench_options& o) { return wf_throughput(o, true); });
PERDURE_WORKLOAD("wf-children",
                 "one workflow starting 1000 child workflows and joining them",
                 wf_children);

} // namespace perdure::bench
