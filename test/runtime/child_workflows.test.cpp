// SPDX-License-Identifier: Apache-2.0
// Child workflows through the public API: child(wf, id) starts a workflow
// of its own, linked both ways, whose output the parent takes; a canceled
// parent cancels its running children; an id that is not the parent's
// child is refused.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/eventlog/records/child.hpp"

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

std::atomic<int> cw_runs{0};

const auto cw_double = step("cw_double", [](int x) {
  ++cw_runs;
  return 2 * x;
});

const auto cw_add = step("cw_add", [](int a, int b) { return a + b; });

// Runs until its token is set (the workflow is canceled).
const auto cw_block = step("cw_block", [](int x) {
  while (!this_step::canceled())
    std::this_thread::sleep_for(1ms);
  return x;
});

// Needs more cpus than the engines of these tests have: a graph that can
// never run.
const auto cw_huge = step("cw_huge", [](int x) { return x; },
                          {.resources = {.cpus = 64}});

const auto cw_sum = step("cw_sum", [](std::vector<int> v) {
  int s = 0;
  for (int x : v)
    s += x;
  return s;
});

const auto cw_fail = step(
  "cw_fail", [](int) -> int { throw std::runtime_error{"no stock"}; },
  {.max_attempts = 1});

workflow<int> two_children() {
  return cw_add(child(cw_double(20), "cw-p/a"),
                child(cw_add(cw_double(1), 0), "cw-p/b"));
}

std::size_t count_kind(engine& eng, const std::string& stream,
                       eventlog::record_kind kind) {
  auto recs = eng.event_log()->read(stream);
  std::size_t n = 0;
  if (recs)
    for (auto& r : *recs)
      n += r.kind == eventlog::to_u16(kind);
  return n;
}

} // namespace

TEST_CASE("child workflows run under their own ids, linked both ways, and "
          "their outputs reach the parent") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s"}};
  cw_runs = 0;
  CHECK(eng.run(two_children(), "cw-p") == 42);
  CHECK(cw_runs == 2);
  for (std::string id : {"cw-p/a", "cw-p/b"}) {
    CAPTURE(id);
    CHECK(eng.status(id) == workflow_status::successful);
    auto m = eng.metadata(id);
    CHECK(m.user_metadata.at(records::parent_key) == "cw-p");
    CHECK(m.user_metadata.at(records::parent_step_key)
          == std::string{"child:"} + id);
    CHECK(count_kind(eng, id, eventlog::record_kind::workflow_submitted)
          == 1);
  }
  CHECK(eng.output<int>("cw-p/a") == 40);
  CHECK(eng.output<int>("cw-p/b") == 2);
  auto kids = records::read_children(*eng.event_log(), "cw-p");
  REQUIRE(kids);
  REQUIRE(kids->size() == 2);
  CHECK(kids->at(0).parent == "cw-p");
  // The parent's own history names its child nodes.
  CHECK(eng.metadata("cw-p", "child:cw-p/a").state == step_state::succeeded);
  // A finished parent run again returns its output and starts nothing.
  CHECK(eng.run(two_children(), "cw-p") == 42);
  CHECK(cw_runs == 2);
  CHECK(records::read_children(*eng.event_log(), "cw-p")->size() == 2);
}

TEST_CASE("a canceled parent cancels its running children") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s"}};
  auto h = eng.run_async(cw_add(child(cw_block(1), "cw-c/kid"), 1), "cw-c");
  REQUIRE(wait_until([&] {
    // Live before its first batch is durable: metadata may not be there.
    auto st = eng.try_status("cw-c/kid");
    auto m = eng.try_metadata("cw-c/kid");
    return st && *st == workflow_status::running && m && m->attempts > 0;
  }));
  eng.cancel("cw-c");
  CHECK(eng.status("cw-c") == workflow_status::canceled);
  CHECK(wait_until([&] {
    return eng.status("cw-c/kid") == workflow_status::canceled;
  }));
  CHECK(h.try_get().error().code() == errc::canceled);
}

TEST_CASE("a child id that is not the parent's child fails the child node "
          "with a conflict and starts nothing") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s"}};
  CHECK(eng.run(cw_add(1, 2), "cw-taken") == 3);
  auto r = eng.try_run(cw_add(child(cw_add(5, 5), "cw-taken"), 0), "cw-x");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("is not a child of 'cw-x'")
        != std::string::npos);
  CHECK(eng.output<int>("cw-taken") == 3);
  CHECK(records::read_children(*eng.event_log(), "cw-x")->empty());
}

TEST_CASE("a failed child fails its parent with the child's error") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s"}};
  auto r = eng.try_run(cw_add(child(cw_fail(1), "cw-f/kid"), 0), "cw-f");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("no stock") != std::string::npos);
  CHECK(eng.status("cw-f/kid") == workflow_status::failed);
}

TEST_CASE("an engine closed while it starts a child closes, and the parent "
          "finishes after the reopen") {
  // Whatever the engine was doing when it closed (the child not started,
  // being started, or running), the close ends and nothing is lost.
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    test::temp_dir dir;
    {
      engine eng{{.storage = dir / "s"}};
      auto h = eng.run_async(cw_add(child(cw_double(4), "cw-z/kid"), 1),
                             "cw-z");
      REQUIRE(wait_until([&] {
        auto st = eng.try_status("cw-z");
        return st.has_value();
      }));
    }
    engine eng{{.storage = dir / "s"}};
    CHECK(eng.output<int>("cw-z") == 9);
    CHECK(records::read_children(*eng.event_log(), "cw-z")->size() == 1);
  }
}

TEST_CASE("a parent of many children starts them all and sums their outputs") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s"}};
  cw_runs = 0;
  constexpr int n = 300; // more than one start batch (256)
  std::vector<workflow<int>> kids;
  for (int i = 0; i < n; ++i)
    kids.push_back(child(cw_double(i), "cw-many/" + std::to_string(i)));
  CHECK(eng.run(cw_sum(kids), "cw-many") == n * (n - 1));
  CHECK(cw_runs == n);
  auto linked = records::read_children(*eng.event_log(), "cw-many");
  REQUIRE(linked);
  CHECK(linked->size() == std::size_t{n});
  for (int i : {0, 255, 256, n - 1})
    CHECK(eng.status("cw-many/" + std::to_string(i))
          == workflow_status::successful);
}

TEST_CASE("a child that can never run fails with its own error, and the "
          "children started beside it are not failed by it") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s", .capacity = {.cpus = 2}}};
  constexpr int n = 20;
  std::vector<workflow<int>> kids;
  for (int i = 0; i < n; ++i)
    kids.push_back(child(cw_add(i, 0), "cw-bad/" + std::to_string(i)));
  kids.push_back(child(cw_huge(1), "cw-bad/huge"));
  auto r = eng.try_run(cw_sum(kids), "cw-bad");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("cw-bad/huge") != std::string::npos);
  CHECK(r.error().message().find("never run") != std::string::npos);
  // Nothing of it was stored.
  CHECK(eng.try_status("cw-bad/huge").error().code() == errc::not_found);
  // The others: each either never started (the parent failed first) or
  // stored and successful, never failed by their neighbour's batch.
  for (int i = 0; i < n; ++i) {
    auto id = "cw-bad/" + std::to_string(i);
    CAPTURE(id);
    CHECK(wait_until([&] {
      auto st = eng.try_status(id);
      return (!st && st.error().code() == errc::not_found)
             || (st && *st == workflow_status::successful);
    }));
  }
}
