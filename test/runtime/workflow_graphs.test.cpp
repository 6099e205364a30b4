// SPDX-License-Identifier: Apache-2.0
// Graph shapes through the public API: sequential, nested, looped, fork-join,
// recursive (dynamic) graphs, shared upstream steps, nested and object
// arguments.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <string>
#include <vector>

using namespace perdure;

namespace {

std::atomic<int> shared_runs{0};

const auto g_one = step("g_one", [] { return 1; });
const auto g_inc = step("g_inc", [](int x) { return x + 1; });
const auto g_add = step("g_add", [](int a, int b) { return a + b; });
const auto g_sum = step("g_sum", [](std::vector<int> v) {
  int s = 0;
  for (int x : v)
    s += x;
  return s;
});
const auto g_shared = step("g_shared", [] {
  ++shared_runs;
  return 7;
});
const auto g_concat = step("g_concat", [](std::string a, std::string b) {
  return a + " " + b;
});

flow<int> fib_impl(int n);
const auto g_fib = step("g_fib", fib_impl);
flow<int> fib_impl(int n) {
  if (n <= 1)
    return n;
  return g_add(g_fib(n - 1), g_fib(n - 2));
}

const auto g_mult = step("g_mult", [](int a, int b) { return a * b; });
flow<int> factorial_impl(int n);
const auto g_factorial = step("g_factorial", factorial_impl);
flow<int> factorial_impl(int n) {
  if (n == 1)
    return 1;
  return g_mult(n, g_factorial(n - 1));
}

// A loop as a dynamic workflow: count up to `limit` one step at a time.
flow<int> loop_impl(int i, int limit);
const auto g_loop = step("g_loop", loop_impl);
flow<int> loop_impl(int i, int limit) {
  if (i >= limit)
    return i;
  return g_loop(g_inc(i), limit);
}

engine_options opts(const test::temp_dir& dir) {
  return {.storage = dir.path(), .durability = eventlog::durability::process};
}

} // namespace

TEST_CASE("a sequential chain passes each output to the next step") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  auto wf = g_inc(g_inc(g_inc(g_one())));
  CHECK(eng.run(wf, "seq") == 4);
  CHECK(eng.status("seq") == workflow_status::successful);
  CHECK(eng.output<int>("seq") == 4);
  CHECK(eng.output<int>("seq", "g_one") == 1);
  CHECK(eng.output<int>("seq", "g_inc_2") == 2);
}

TEST_CASE("nested arguments of a step are resolved before it runs") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  CHECK(eng.run(g_add(g_add(1, g_one()), g_add(g_inc(2), 10))) == 15);
  std::vector<workflow<int>> parts{g_one(), g_inc(5), g_add(2, 3)};
  CHECK(eng.run(g_sum(parts)) == 12);
  CHECK(eng.run(g_sum(std::vector<int>{1, 2, 3})) == 6);
}

TEST_CASE("a fork-join graph runs every branch and joins them") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  std::vector<workflow<int>> branches;
  for (int i = 0; i < 50; ++i)
    branches.push_back(g_inc(i));
  CHECK(eng.run(g_sum(branches), "fanout") == 50 * 51 / 2);
  CHECK(eng.metadata("fanout").steps == 51);
}

TEST_CASE("a shared upstream step executes once for all its consumers") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  shared_runs = 0;
  auto s = g_shared();
  CHECK(eng.run(g_add(g_add(s, s), g_inc(s))) == 22);
  CHECK(shared_runs == 1);
}

TEST_CASE("recursive dynamic workflows compute fibonacci and factorial") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  CHECK(eng.run(g_fib(10), "fib10") == 55);
  CHECK(eng.run(g_factorial(5), "fact5") == 120);
  CHECK(eng.output<int>("fact5", "g_factorial_1") == 24);
}

TEST_CASE("a looped dynamic workflow continues until its condition holds") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  CHECK(eng.run(g_loop(0, 20), "loop") == 20);
  CHECK(eng.output<int>("loop", "g_loop_20") == 20);
}

TEST_CASE("step ids are unique per workflow, outer call first") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  CHECK(eng.run(g_inc(g_inc(1)), "ids") == 3);
  CHECK(eng.output<int>("ids", "g_inc") == 3);
  CHECK(eng.output<int>("ids", "g_inc_1") == 2);
  CHECK(eng.run(g_inc.options({.name = "named"})(41), "named") == 42);
  CHECK(eng.output<int>("named", "named") == 42);
}

TEST_CASE("objects are stored once and read by every step that takes them") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  auto a = eng.put(std::string{"hello"});
  auto b = eng.put(std::string{"world"});
  auto again = eng.put(std::string{"hello"});
  CHECK(a.key() == again.key());
  CHECK(eng.run(g_concat(a, b)) == "hello world");
  CHECK(eng.get(b) == "world");
}
