// SPDX-License-Identifier: Apache-2.0
// Projections over every workflow's records (engine_options::workflow_feed):
// from the beginning, then live; both delivery modes; removed workflows;
// and an exactly-once projection killed (SIGKILL) ten times while
// workflows run ends with exactly the rows their records imply.

#include <doctest/doctest.h>

#include "perdure/actors/projection.hpp"
#include "perdure/eventlog/records/projection.hpp"
#include "perdure/eventlog/records/workflow.hpp"
#include "perdure/runtime/engine.hpp"

#include "child_process.hpp"
#include "projection_kills.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

using namespace perdure;

namespace {

// Workflow `k` runs wp_inc(k) then wp_check: fails when k % 7 == 3.
const auto wp_inc = step("wp_inc", [](int k) { return k + 1; });
const auto wp_check = step("wp_check", [](int x) {
  if (x % 7 == 4)
    throw std::runtime_error("refused");
  return x * 2;
});

workflow<int> order(int k) {
  return wp_check.options({.max_attempts = 1})(wp_inc(k));
}

// The read model: per workflow, steps that succeeded, how it ended, the
// last step output seen.
struct wf_row {
  int steps = 0;
  std::string ended;
  int output = 0;
  bool operator==(const wf_row&) const = default;
};
PERDURE_FIELDS(wf_row, steps, ended, output)

void rows_fn(const projected_event& e, projection_rows& rows) {
  if (!e.actor.empty() || e.workflow.empty()) // also runs in children
    throw std::logic_error("a workflow record without its workflow");
  auto row = rows.get_as<wf_row>(e.workflow).value_or(wf_row{});
  if (auto out = e.output_as<int>()) {
    ++row.steps;
    row.output = *out;
  }
  if (e.type == "workflow_succeeded" || e.type == "workflow_failed")
    row.ended = std::string{e.type};
  rows.put_as(e.workflow, row);
}

// The row workflow `id` ("…-K") must have once it ended.
wf_row expected(const std::string& id) {
  int k = std::stoi(id.substr(id.rfind('-') + 1));
  if ((k + 1) % 7 == 4)
    return {1, "workflow_failed", k + 1};
  return {2, "workflow_succeeded", (k + 1) * 2};
}

std::uint64_t feed_head(engine& eng) {
  auto i = eng.event_log()->info(records::workflow_feed_stream);
  return i ? i->last_seq : 0;
}

void check_rows(engine& eng, const std::string& name) {
  auto table = projection_table(eng, name);
  REQUIRE(table);
  auto all = eng.event_log()->list(eventlog::stream_kind::workflow);
  REQUIRE(all);
  CHECK(table->size() == all->size());
  for (auto& s : *all) {
    INFO("workflow " << s.id);
    REQUIRE(table->count(s.id));
    auto got = codec::decode<wf_row>(table->at(s.id));
    REQUIRE(got);
    CHECK(*got == expected(s.id));
  }
}

void run_orders(engine& eng, const std::string& prefix, int from, int n) {
  std::vector<handle<int>> hs;
  for (int k = from; k < from + n; ++k)
    hs.push_back(eng.run_async(order(k), prefix + std::to_string(k)));
  for (auto& h : hs)
    static_cast<void>(h.try_get());
}

} // namespace

TEST_CASE("a workflow projection catches up on stored workflows, follows "
          "new ones, and sees each record once in both modes") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s", .workflow_feed = true}};
  run_orders(eng, "w-", 0, 30);
  auto exact = project_workflows(eng, "orders", rows_fn, {.batch = 7});
  std::mutex mu;
  std::set<std::pair<std::string, std::uint64_t>> seen;
  std::size_t deliveries = 0;
  auto least = project_workflows(eng, "log", [&](const projected_event& e) {
    std::lock_guard g{mu};
    ++deliveries;
    seen.insert({std::string{e.workflow}, e.seq});
    CHECK_FALSE(e.removed);
    if (e.type == "workflow_submitted")
      CHECK(e.record_as<records::workflow_submitted>().nodes.size() == 2);
  });
  run_orders(eng, "w-", 30, 30);
  auto head = feed_head(eng);
  REQUIRE(test::wait_until([&] {
    return exact.position() >= head && least.position() >= head;
  }));
  CHECK(exact.error());
  CHECK(least.error());
  check_rows(eng, "orders");
  // Every record of every workflow, once.
  std::size_t records = 0;
  auto all = eng.event_log()->list(eventlog::stream_kind::workflow);
  REQUIRE(all);
  for (auto& s : *all)
    records += s.last_seq;
  std::lock_guard g{mu};
  CHECK(seen.size() == records);
  CHECK(deliveries == records);
  CHECK(head == records);
}

TEST_CASE("a workflow projection needs the feed, and sees removed "
          "workflows' records as removed") {
  test::temp_dir dir;
  {
    engine off{{.storage = dir / "s"}};
    auto p = try_project_workflows(off, "x", [](const projected_event&) {});
    CHECK(p.error() == errc::invalid_argument);
    CHECK(p.error().message().find("workflow_feed") != std::string::npos);
  }
  engine eng{{.storage = dir / "s", .workflow_feed = true}};
  run_orders(eng, "gone-", 0, 1);
  run_orders(eng, "kept-", 0, 1);
  eng.remove("gone-0");
  std::mutex mu;
  std::map<std::string, std::pair<int, int>> by; // removed, present
  auto p = project_workflows(eng, "audit", [&](const projected_event& e) {
    std::lock_guard g{mu};
    auto& c = by[std::string{e.workflow}];
    (e.removed ? c.first : c.second)++;
    if (e.removed)
      CHECK(e.data.empty());
  });
  auto head = feed_head(eng);
  REQUIRE(test::wait_until([&] { return p.position() >= head; }));
  std::lock_guard g{mu};
  CHECK(by["gone-0"].first > 0);
  CHECK(by["gone-0"].second == 0);
  CHECK(by["kept-0"].first == 0);
  CHECK(by["kept-0"].second > 0);
}

// args: storage, round. Runs orders in windows of 4 while projection
// "crash" runs; prints its position after each window.
PERDURE_CHILD_ENTRY("workflow_projection_crash") {
  engine eng{{.storage = args.at(0), .workflow_feed = true}};
  std::mt19937 rng{std::random_device{}()};
  auto p = project_workflows(eng, "crash", rows_fn,
                             {.batch = 1 + rng() % 40});
  auto prefix = "r" + args.at(1) + "-";
  for (int k = 0; k < 1'000'000; k += 4) {
    run_orders(eng, prefix, k, 4);
    if (!p.error())
      return 3;
    std::printf("pos %llu\n", static_cast<unsigned long long>(p.position()));
    std::fflush(stdout);
  }
  return 0;
}

TEST_CASE("an exactly-once workflow projection killed ten times while "
          "workflows run ends with exactly the rows their records imply") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  test::kill_on_progress(
    "workflow_projection_crash",
    [&](int round, std::mt19937&) {
      return std::vector<std::string>{storage, std::to_string(round)};
    },
    100);
  // The last engine resumes what was in flight and catches up.
  engine eng{{.storage = storage, .workflow_feed = true}};
  auto p = project_workflows(eng, "crash", rows_fn);
  REQUIRE(test::wait_until([&] {
    auto all = eng.event_log()->list(eventlog::stream_kind::workflow);
    if (!all)
      return false;
    for (auto& s : *all)
      if (s.status == "running")
        return false;
    return p.position() >= feed_head(eng);
  }));
  CHECK(p.error());
  check_rows(eng, "crash");
}
