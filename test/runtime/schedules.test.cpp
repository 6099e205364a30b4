// SPDX-License-Identifier: Apache-2.0
// Schedules in one engine: a workflow per tick with the tick's id, pause
// and resume (the pause's ticks never run), declare errors, list, delete.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/eventlog/records/schedule.hpp"
#include "perdure/runtime/schedule.hpp"

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <map>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;
using sclock = std::chrono::system_clock;

namespace {

std::int64_t ms_of(sclock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           t.time_since_epoch())
    .count();
}

const auto sch_echo = step("sch_echo", [](std::int64_t ms) { return ms; });

// tick ms -> workflow id, for the successful workflows of schedule `name`.
std::map<std::int64_t, std::string> ticks_of(engine& eng,
                                             const std::string& name) {
  std::map<std::int64_t, std::string> out;
  for (auto& w : eng.list({workflow_status::successful}))
    if (w.id.rfind(name + "/", 0) == 0)
      out.emplace(eng.output<std::int64_t>(w.id), w.id);
  return out;
}

} // namespace

TEST_CASE("a schedule starts one workflow per tick and a paused one none") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto made = [](sclock::time_point tick) { return sch_echo(ms_of(tick)); };
  // run_all: every tick runs even when the machine is too slow to keep up
  // (run_once would skip to the latest), so the ticks are consecutive.
  auto info = schedule<std::int64_t>(eng, "beat", "every 100ms", made,
                                     {.missed = catch_up::run_all});
  CHECK(info.name == "beat");
  CHECK_FALSE(info.last_tick);
  // The first three ticks fired and their workflows ran.
  auto first_three = [&] {
    std::vector<schedule_records::schedule_fired> out;
    auto st = eng.event_log()->scan(
      schedule_records::stream_of("beat"), 1,
      [&](const eventlog::record_view& r) {
        auto f = codec::decode<schedule_records::schedule_fired>(r.payload);
        REQUIRE(f);
        out.push_back(*f);
        return out.size() < 3;
      });
    REQUIRE(st);
    return out;
  };
  REQUIRE(test::wait_until([&] {
    auto f = first_three();
    if (f.size() < 3)
      return false;
    for (auto& x : f) {
      auto st = eng.try_status(x.workflow);
      if (!st || *st != workflow_status::successful)
        return false;
    }
    return true;
  }));
  {
    auto f = first_three();
    for (std::size_t k = 0; k < 3; ++k) {
      auto ms = f[k].tick_ns / 1'000'000;
      CHECK(ms == f[0].tick_ns / 1'000'000 + 100 * static_cast<long>(k));
      CHECK(ms % 100 == 0);
      CHECK(f[k].workflow.rfind("beat/20", 0) == 0);
      CHECK(eng.output<std::int64_t>(f[k].workflow) == ms); // its tick
    }
  }
  REQUIRE(pause_schedule(eng, "beat"));
  auto paused_at = ms_of(sclock::now());
  auto listed = list_schedules(eng);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().paused);
  CHECK(listed->front().spec == "every 100ms");
  // Ticks pass while paused (a slow machine only sees fewer of them).
  while (ms_of(sclock::now()) < paused_at + 400)
    std::this_thread::sleep_for(10ms);
  // Ticks after the resume's mark run again: the window ends before it.
  auto resumed_at = ms_of(sclock::now());
  REQUIRE(resume_schedule(eng, "beat"));
  REQUIRE(test::wait_until([&] {
    auto t = ticks_of(eng, "beat");
    return !t.empty() && t.rbegin()->first > resumed_at;
  }));
  // A tick being fired as the pause committed may still run; none after.
  for (auto& [tick, id] : ticks_of(eng, "beat")) {
    INFO("tick " << tick << " paused " << paused_at << " resumed "
                 << resumed_at);
    CHECK_FALSE((tick > paused_at + 100 && tick <= resumed_at));
  }
  // Every tick's record names its workflow, once.
  auto stored = schedule_records::read_schedule(*eng.event_log(), "beat");
  REQUIRE(stored);
  CHECK(stored->last_tick_ns);

  auto again = try_schedule<std::int64_t>(eng, "beat", "every 1s", made);
  REQUIRE_FALSE(again);
  CHECK(again.error() == errc::conflict);
  auto bad = try_schedule<std::int64_t>(eng, "no/slash", "every 1s", made);
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == errc::invalid_argument);
  auto spec = try_schedule<std::int64_t>(eng, "x", "every sometimes", made);
  REQUIRE_FALSE(spec);
  CHECK(spec.error() == errc::invalid_argument);

  REQUIRE(delete_schedule(eng, "beat"));
  CHECK(list_schedules(eng)->empty());
  CHECK(pause_schedule(eng, "beat") == errc::not_found);
  CHECK(delete_schedule(eng, "beat") == errc::not_found);
}
