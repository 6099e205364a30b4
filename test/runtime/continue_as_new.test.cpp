// SPDX-License-Identifier: Apache-2.0
// Continue-as-new through the public API: a loop of 10,000 runs keeps its
// live stream under 100 records and only the last keep_runs earlier runs;
// the other steps of a run that continues are told to stop; a graph of
// the wrong output type fails the step; signals not consumed carry over;
// remove() takes the kept runs along; a crash after every write resumes
// to the same output.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/eventlog/records/runs.hpp"
#include "perdure/eventlog/records/workflow.hpp"
#include "perdure/runtime/crash_harness.hpp"

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

using namespace perdure;
using test::wait_until;

namespace {

// The most records the live stream held when a loop step looked.
std::atomic<std::uint64_t> can_most{0};

std::uint64_t live_records(engine& eng, const std::string& id) {
  auto i = eng.event_log()->info(id).value();
  return i.first_seq == 0 ? 0 : i.last_seq - i.first_seq + 1;
}

// Counts from `i` to `limit`, one run per number.
flow<int> can_loop_impl(int i, int limit);
const auto can_loop = step("can_loop", can_loop_impl);
flow<int> can_loop_impl(int i, int limit) {
  auto& eng = this_step::engine();
  auto n = live_records(eng, this_step::workflow_id());
  auto most = can_most.load();
  while (n > most && !can_most.compare_exchange_weak(most, n)) {
  }
  if (i >= limit)
    return i;
  return continue_as_new(can_loop(i + 1, limit));
}

// A run of two steps: the work, then the decision.
const auto can_double = step("can_double", [](int x) { return 2 * x; });
flow<int> can_next_impl(int doubled, int i, int limit);
const auto can_next = step("can_next", can_next_impl);
flow<int> can_next_impl(int doubled, int i, int limit) {
  if (i >= limit)
    return doubled;
  return continue_as_new(can_next(can_double(i + 1), i + 1, limit));
}

// A sibling that runs until told to stop.
std::atomic<bool> can_holding{false};
std::atomic<bool> can_told{false};
const auto can_hold = step("can_hold", [] {
  can_holding = true;
  wait_until([] { return this_step::canceled(); });
  can_told = this_step::canceled();
  return 0;
});
const auto can_add = step("can_add", [](int a, int b) { return a + b; });
const auto can_once = step("can_once", [](int x) -> flow<int> {
  wait_until([] { return can_holding.load(); });
  return continue_as_new(can_add(x, 1));
});

// Continues a string workflow with an int graph: a type mismatch.
const auto can_bad = step("can_bad", [](int x) -> flow<int> {
  return continue_as_new(can_add(x, x));
});
const auto can_str = step("can_str", [](int x) { return std::to_string(x); });

// Each run takes one "n" signal; the signals sent ahead carry over.
flow<int> can_sum_impl(int got, int sum, int left);
const auto can_sum = step("can_sum", can_sum_impl);
flow<int> can_sum_impl(int got, int sum, int left) {
  if (left == 0)
    return sum + got;
  return continue_as_new(
    can_sum(wait_for_signal<int>("n"), sum + got, left - 1));
}

engine_options opts(const test::temp_dir& dir, std::size_t keep = 10) {
  return {.storage = dir.path(),
          .durability = eventlog::durability::process,
          .capacity = {.cpus = 4},
          .keep_runs = keep};
}

} // namespace

TEST_CASE("10,000 continue-as-new runs keep the live stream under 100 "
          "records and the last 10 runs") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  can_most = 0;
  CHECK(eng.run(can_loop(0, 10'000), "loop") == 10'000);
  CHECK(can_most.load() > 0);
  CHECK(can_most.load() < 100);
  CHECK(live_records(eng, "loop") < 100);
  auto m = eng.metadata("loop");
  CHECK(m.run_number == 10'001);
  CHECK(eng.metrics()
          .get_counter("perdure_workflow_runs_continued_total", "")
          .value()
        == 10'000);
  CHECK(m.status == workflow_status::successful);
  auto kept = records::archived_runs(*eng.event_log(), "loop").value();
  REQUIRE(kept.size() == 10);
  CHECK(kept.front() == 9'991);
  CHECK(kept.back() == 10'000);
  // An earlier run reads as first stored, then ends continued.
  auto r = records::read_run(*eng.event_log(), "loop", 9'995).value();
  REQUIRE(r.size() >= 3);
  CHECK(r.front().kind
        == eventlog::to_u16(eventlog::record_kind::workflow_submitted));
  auto sub = codec::decode<records::workflow_submitted>(r.front().payload);
  CHECK(sub.value().run == 9'995);
  CHECK(r.back().kind
        == eventlog::to_u16(eventlog::record_kind::workflow_continued));
  auto end = codec::decode<records::workflow_continued>(r.back().payload);
  CHECK(end.value().run == 9'995);
  CHECK(end.value().step == "can_loop");
  CHECK(records::read_run(*eng.event_log(), "loop", 9'990).error()
        == errc::not_found);
  // Every record the storage holds: the live run and the 10 kept runs.
  auto dbs = eng.event_log()->storage().value().dbs;
  auto log = std::find_if(dbs.begin(), dbs.end(),
                          [](auto& d) { return d.name == "log"; });
  REQUIRE(log != dbs.end());
  CHECK(log->entries < 100);
}

TEST_CASE("a run of several steps continues with its new input") {
  test::temp_dir dir;
  engine eng{opts(dir, 3)};
  CHECK(eng.run(can_next(can_double(0), 0, 50), "two") == 100);
  CHECK(eng.metadata("two").run_number == 51);
  CHECK(eng.output<int>("two", "can_double") == 100);
  auto kept = records::archived_runs(*eng.event_log(), "two").value();
  CHECK(kept == std::vector<std::uint32_t>{48, 49, 50});
  // remove() takes the kept runs along.
  eng.remove("two");
  CHECK(records::archived_runs(*eng.event_log(), "two").value().empty());
}

TEST_CASE("keep_runs 0 keeps no earlier run") {
  test::temp_dir dir;
  engine eng{opts(dir, 0)};
  CHECK(eng.run(can_loop(0, 20), "none") == 20);
  CHECK(records::archived_runs(*eng.event_log(), "none").value().empty());
  CHECK(live_records(eng, "none") == 4);
}

TEST_CASE("continue-as-new tells the old run's running steps to stop") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  can_holding = false;
  can_told = false;
  CHECK(eng.run(can_add(can_hold(), can_once(1)), "stop") == 2);
  CHECK(wait_until([] { return can_told.load(); }));
  CHECK(eng.metadata("stop").run_number == 2);
}

TEST_CASE("continue-as-new with a graph of another output type fails the "
          "step") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  auto r = eng.try_run(can_str(can_bad(1)), "bad");
  REQUIRE(!r);
  CHECK(eng.status("bad") == workflow_status::failed);
  auto m = eng.metadata("bad", "can_bad");
  CHECK(m.error_text.find("perdure::type_mismatch") != std::string::npos);
  CHECK(eng.metadata("bad").run_number == 1);
}

TEST_CASE("signals not consumed by a run go to the next runs") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  auto h = eng.run_async(can_sum(0, 0, 3), "sig");
  for (int v : {1, 2, 3})
    eng.signal("sig", "n", v);
  CHECK(h.get() == 6);
  CHECK(eng.metadata("sig").run_number == 4);
  CHECK(!eng.try_signal("sig", "n", 4));
}

TEST_CASE("a crash after any write of a continue-as-new loop resumes to "
          "the same output") {
  test::temp_dir dir;
  auto report = testing::crash_at_every_write(
    can_next(can_double(0), 0, 4), "crash",
    {.work_dir = dir.path(), .max_prefixes = 40});
  for (auto& f : report.failures)
    MESSAGE(f);
  CHECK(report.ok());
  CHECK(report.resumed + report.not_found == report.prefixes);
}
