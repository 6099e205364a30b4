// SPDX-License-Identifier: Apache-2.0
// Cancel and engine shutdown never wait for step bodies that ignore their
// cancellation token: such bodies are left running, their late results are
// dropped (never logged as success) and their workflows stay resumable.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/eventlog/record_kinds.hpp"

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

// A gate the test opens; bodies block on it and never look at their token.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void reset() {
    std::lock_guard g{mu};
    open = false;
  }
  void release() {
    {
      std::lock_guard g{mu};
      open = true;
    }
    cv.notify_all();
  }
  void wait() {
    std::unique_lock g{mu};
    cv.wait(g, [&] { return open; });
  }
};

gate stubborn_gate;
std::atomic<int> stubborn_started{0};
std::atomic<int> stubborn_returned{0};

const auto s_stubborn = step("s_stubborn", [](int x) {
  ++stubborn_started;
  stubborn_gate.wait(); // ignores this_step::canceled()
  ++stubborn_returned;
  return x + 1;
});
const auto s_quick = step("s_quick", [](int x) { return x * 10; });

using test::wait_until;

engine_options opts(const test::temp_dir& dir) {
  return {.storage = dir.path(),
          .durability = eventlog::durability::process,
          .capacity = {.cpus = 16},
          .resume_on_open = false}; // the tests resume by hand
}

// The kinds of the records of workflow `id`.
std::vector<std::uint16_t> kinds(engine& eng, const std::string& id) {
  std::vector<std::uint16_t> out;
  auto recs = eng.event_log()->read(id);
  REQUIRE(recs.has_value());
  for (auto& r : *recs)
    out.push_back(r.kind);
  return out;
}

int count_kind(const std::vector<std::uint16_t>& ks, eventlog::record_kind k) {
  int n = 0;
  for (auto x : ks)
    n += x == eventlog::to_u16(k);
  return n;
}

void reset() {
  stubborn_gate.reset();
  stubborn_started = 0;
  stubborn_returned = 0;
}

} // namespace

TEST_CASE("cancel returns while a body ignoring its token still runs, and "
          "its late result is not logged") {
  test::temp_dir dir;
  reset();
  auto eng = std::make_unique<engine>(opts(dir));
  auto h = eng->run_async(s_stubborn(1), "stub");
  REQUIRE(wait_until([] { return stubborn_started == 1; }));
  // The body is released only after cancel returned: a cancel that waited
  // for it would never return (the future would not get ready).
  auto canceled = std::async(std::launch::async, [&] { eng->cancel("stub"); });
  bool returned = canceled.wait_for(30s) == std::future_status::ready;
  CHECK(returned);
  CHECK(stubborn_returned == 0);
  if (!returned)
    stubborn_gate.release(); // lets the test end
  canceled.get();
  CHECK(eng->status("stub") == workflow_status::canceled);
  CHECK_THROWS_AS(h.get(), workflow_canceled);
  // The id is reused while the old body still runs: the new run must not
  // be confused by the old body's result.
  eng->remove("stub");
  CHECK(eng->run(s_quick(7), "stub") == 70);
  stubborn_gate.release();
  REQUIRE(wait_until([] { return stubborn_returned == 1; }));
  eng.reset(); // waits for the returned body's thread (it is done)
  engine again{opts(dir)};
  CHECK(again.status("stub") == workflow_status::successful);
  CHECK(again.output<int>("stub") == 70);
  auto ks = kinds(again, "stub");
  CHECK(count_kind(ks, eventlog::record_kind::step_succeeded) == 1);
  CHECK(again.metadata("stub", "s_quick").state == step_state::succeeded);
  CHECK_THROWS_AS((void) again.metadata("stub", "s_stubborn"), not_found);
}

TEST_CASE("a canceled workflow's late result is dropped and it stays "
          "canceled") {
  test::temp_dir dir;
  reset();
  engine eng{opts(dir)};
  auto h = eng.run_async(s_quick(s_stubborn(2)), "late");
  REQUIRE(wait_until([] { return stubborn_started == 1; }));
  eng.cancel("late");
  stubborn_gate.release();
  REQUIRE(wait_until([] { return stubborn_returned == 1; }));
  CHECK(eng.status("late") == workflow_status::canceled);
  CHECK_THROWS_AS(eng.resume("late"), workflow_canceled);
  auto ks = kinds(eng, "late");
  CHECK(count_kind(ks, eventlog::record_kind::step_succeeded) == 0);
  CHECK(count_kind(ks, eventlog::record_kind::workflow_canceled) == 1);
}

TEST_CASE("~engine returns within 5 s while 10 bodies ignoring their token "
          "are blocked, and their workflows stay resumable") {
  test::temp_dir dir;
  reset();
  auto eng = std::make_unique<engine>(opts(dir));
  std::vector<handle<int>> hs;
  for (int i = 0; i < 10; ++i)
    hs.push_back(eng->run_async(s_stubborn(i), "stuck" + std::to_string(i)));
  REQUIRE(wait_until([] { return stubborn_started == 10; }));
  auto t0 = std::chrono::steady_clock::now();
  eng.reset();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 5s);
  CHECK(stubborn_returned == 0);
  for (auto& h : hs)
    CHECK_THROWS_AS(h.get(), perdure::error);
  // The abandoned bodies return now, into no engine: nothing is logged.
  stubborn_gate.release();
  REQUIRE(wait_until([] { return stubborn_returned == 10; }));
  engine again{opts(dir)};
  for (int i = 0; i < 10; ++i) {
    auto id = "stuck" + std::to_string(i);
    CHECK(again.status(id) == workflow_status::resumable);
    CHECK(count_kind(kinds(again, id), eventlog::record_kind::step_succeeded)
          == 0);
  }
  CHECK(again.resume_all().size() == 10);
  for (int i = 0; i < 10; ++i)
    CHECK(again.output<int>("stuck" + std::to_string(i)) == i + 1);
  CHECK(stubborn_started == 20);
}
