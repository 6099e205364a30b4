// SPDX-License-Identifier: Apache-2.0
// wf-child-nodes: one parent graph of n child nodes (perdure::child, each
// the 1-step workflow inc(i) under id "kid-<n>-<i>") joined by a sum, for
// n = 250 and n = 2000 in one run. The time per child at both widths is
// the same-run baseline of how the child source scales: a cost per child
// that grows with n (each child reading its parent's whole children
// stream) shows as the wider run's per-child time rising n-fold.

#include "bench.hpp"
#include "engine_opts.hpp"

#include <fmt/format.h>
#include <perdure/perdure.hpp>
#include <stdexcept>
#include <vector>

namespace perdure::bench {

namespace {

const auto kid_inc = step("bench_kid_inc", [](int x) { return x + 1; });
const auto kid_sum = step("bench_kid_sum", [](std::vector<int> v) {
  long s = 0;
  for (int x : v)
    s += x;
  return static_cast<int>(s);
});

// Runs a parent of `n` children in `eng`; its seconds, or throws when the
// sum is wrong.
double parent_of(engine& eng, int n) {
  std::vector<workflow<int>> kids;
  for (int i = 0; i < n; ++i)
    kids.push_back(child(kid_inc(i), fmt::format("kid-{}-{}", n, i)));
  auto t0 = std::chrono::steady_clock::now();
  int out = eng.run(kid_sum(kids), fmt::format("parent-{}", n));
  double s = seconds_since(t0);
  if (out != n * (n + 1) / 2)
    throw std::runtime_error(
        fmt::format("a parent of {} children summed {}", n, out));
  return s;
}

figures wf_child_nodes(const bench_options& o) {
  constexpr int narrow = 250, wide = 2000;
  engine eng{engine_opts(o, "wf-child-nodes")};
  double s_narrow = parent_of(eng, narrow);
  double s_wide = parent_of(eng, wide);
  auto ended = eng.list({workflow_status::successful}).size();
  figures f;
  f.add("us_per_child_250", s_narrow * 1e6 / narrow);
  f.add("us_per_child_2000", s_wide * 1e6 / wide);
  f.add("seconds_2000", s_wide);
  f.add("ratio_2000_to_250", (s_wide / wide) / (s_narrow / narrow));
  f.add("correct", ended == narrow + wide + 2 ? 1 : 0);
  return f;
}

} // namespace

PERDURE_WORKLOAD("wf-child-nodes",
                 "a parent graph of 250, then 2000 child workflow nodes "
                 "joined by a sum",
                 wf_child_nodes);

} // namespace perdure::bench
