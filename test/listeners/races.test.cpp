// SPDX-License-Identifier: Apache-2.0
// Races through the public API: first_of(a, b, ...) and
// with_timeout(node, d). One input wins; the losers are canceled (their
// signal stays for the next wait, their timers are removed, their pending
// steps never start, their running bodies are not waited for).

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <string>
#include <variant>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;
using eventlog::record_kind;

namespace {

bool exists(engine& eng, const std::string& id) {
  return eng.try_status(id).has_value();
}

// Records of `kind` in workflow `id` whose step id starts with `prefix`.
int count_records(engine& eng, const std::string& id, record_kind kind,
                  const std::string& prefix) {
  int n = 0;
  auto recs = eng.event_log()->read(id).value();
  for (auto& r : recs) {
    if (r.kind != eventlog::to_u16(kind))
      continue;
    auto s = codec::decode<records::step_succeeded>(r.payload).value();
    if (s.id.rfind(prefix, 0) == 0)
      ++n;
  }
  return n;
}

std::size_t timers_of(engine& eng, const std::string& id) {
  auto all = eng.event_log()
               ->timers_due(std::numeric_limits<std::int64_t>::max())
               .value();
  return static_cast<std::size_t>(std::count_if(
    all.begin(), all.end(), [&](auto& t) { return t.stream == id; }));
}

const auto rt_tag = step("rt_tag", [](int won, int v) {
  return std::vector<int>{won, v};
});

// After with_timeout: the winner's value, or (timed out) the next "go".
const auto rt_settle = step(
  "rt_settle", [](std::optional<int> r) -> flow<std::vector<int>> {
    if (r)
      return std::vector<int>{1, *r};
    return rt_tag(0, wait_for_signal<int>("go"));
  });

const auto rt_pair = step("rt_pair", [](std::string a, std::string b) {
  return std::vector<std::string>{a, b};
});
const auto rt_str = step("rt_str", [](int v) { return std::to_string(v); });

// After first_of: the winner, then the loser's signal by its name.
const auto rt_both = step(
  "rt_both",
  [](std::variant<int, std::string> w) -> flow<std::vector<std::string>> {
    if (w.index() == 0)
      return rt_pair(std::to_string(std::get<0>(w)),
                     wait_for_signal<std::string>("b"));
    return rt_pair(std::get<1>(w), rt_str(wait_for_signal<int>("a")));
  });

std::atomic<bool> rt_release{false};
std::atomic<int> rt_slow_ran{0};
std::atomic<int> rt_after_ran{0};

const auto rt_slow = step("rt_slow", [] {
  ++rt_slow_ran;
  wait_until([] { return rt_release.load(); });
  return 1;
});
const auto rt_after = step("rt_after", [](int v) {
  ++rt_after_ran;
  return v + 1;
});

// Runs until told to stop (its token), then says so and returns.
std::atomic<bool> rt_poll_started{false};
std::atomic<bool> rt_poll_told{false};
std::atomic<bool> rt_poll_returned{false};
const auto rt_poll = step("rt_poll", [] {
  rt_poll_started = true;
  wait_until([] { return this_step::canceled(); });
  rt_poll_told = this_step::canceled();
  rt_poll_returned = true;
  return 1;
});

// A dynamic step whose sub-graph is a long timer.
const auto rt_dyn = step("rt_dyn", []() -> workflow<timer_event> {
  return sleep(1h);
});

} // namespace

TEST_CASE("first_of yields the first input to finish and the loser's signal "
          "stays for the next wait") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(
    rt_both(first_of(wait_for_signal<int>("a"),
                     wait_for_signal<std::string>("b"))),
    "fo");
  REQUIRE(wait_until([&] { return exists(eng, "fo"); }));
  eng.signal("fo", "b", "bee");
  // The race is decided before "a" is sent: "a" goes to the next wait.
  REQUIRE(wait_until([&] {
    return eng.metadata("fo", "first_of").state == step_state::succeeded;
  }));
  eng.signal("fo", "a", 7);
  CHECK(h.get() == std::vector<std::string>{"bee", "7"});
  CHECK(count_records(eng, "fo", record_kind::step_succeeded, "first_of")
        == 1);
  // Each signal was taken by exactly one wait.
  CHECK(count_records(eng, "fo", record_kind::event_received, "signal:")
        == 2);
}

TEST_CASE("with_timeout: a value in time removes the timer, a timeout "
          "leaves the signal for the next wait") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto in_time = eng.run_async(
    rt_settle(with_timeout(wait_for_signal<int>("go"), 1h)), "fast");
  REQUIRE(wait_until([&] { return exists(eng, "fast"); }));
  REQUIRE(wait_until([&] { return timers_of(eng, "fast") == 1; }));
  eng.signal("fast", "go", 5);
  CHECK(in_time.get() == std::vector<int>{1, 5});
  CHECK(timers_of(eng, "fast") == 0);
  CHECK(eng.metadata("fast", "with_timeout").state == step_state::succeeded);

  auto late = eng.run_async(
    rt_settle(with_timeout(wait_for_signal<int>("go"), 1ms)), "slow");
  REQUIRE(wait_until([&] {
    return exists(eng, "slow")
           && eng.metadata("slow", "with_timeout").state
                == step_state::succeeded;
  }));
  eng.signal("slow", "go", 6);
  CHECK(late.get() == std::vector<int>{0, 6});
  CHECK(count_records(eng, "slow", record_kind::event_received, "signal:")
        == 1);
  CHECK(timers_of(eng, "slow") == 0);
}

TEST_CASE("a signal and a timeout racing: exactly one wins, 200 times") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  int signal_won = 0, timer_won = 0;
  for (int i = 0; i < 200; ++i) {
    auto id = "r" + std::to_string(i);
    // Either may win, whatever the machine's speed: each outcome is
    // checked for consistency, not expected.
    auto h = eng.run_async(
      rt_settle(with_timeout(wait_for_signal<int>("go"),
                             std::chrono::microseconds{(i % 8) * 250})),
      id);
    REQUIRE(wait_until([&] { return exists(eng, id); }));
    eng.signal(id, "go", i);
    auto out = h.get();
    REQUIRE(out.size() == 2);
    CHECK(out[1] == i); // the one signal, delivered once either way
    (out[0] == 1 ? signal_won : timer_won)++;
    CHECK(count_records(eng, id, record_kind::step_succeeded,
                        "with_timeout")
          == 1);
    CHECK(count_records(eng, id, record_kind::event_received, "signal:")
          == 1);
    // The timer either fired (and won) or was removed.
    CHECK(count_records(eng, id, record_kind::event_received, "perdure.")
          == (out[0] == 1 ? 0 : 1));
    CHECK(timers_of(eng, id) == 0);
  }
  MESSAGE("signal won " << signal_won << ", timeout won " << timer_won);
  CHECK(signal_won + timer_won == 200);
}

TEST_CASE("a race's losing steps: pending ones never start, a running one "
          "is not waited for") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  rt_release = false;
  rt_slow_ran = 0;
  rt_after_ran = 0;
  auto h = eng.run_async(
    first_of(rt_after(rt_slow()), wait_for_signal<int>("stop")), "lose");
  REQUIRE(wait_until([&] { return rt_slow_ran.load() == 1; }));
  eng.signal("lose", "stop", 3);
  auto v = h.get(); // while rt_slow still runs
  CHECK(v.index() == 1);
  CHECK(std::get<1>(v) == 3);
  CHECK(eng.status("lose") == workflow_status::successful);
  rt_release = true;
  CHECK(rt_after_ran.load() == 0);
  CHECK(eng.metadata("lose", "rt_after").error_text.find("lost the race")
        != std::string::npos);
}

TEST_CASE("a race's running loser is told to stop: its body sees its "
          "token and returns") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  rt_poll_started = false;
  rt_poll_told = false;
  rt_poll_returned = false;
  auto h = eng.run_async(first_of(rt_poll(), wait_for_signal<int>("stop")),
                         "told");
  REQUIRE(wait_until([] { return rt_poll_started.load(); }));
  eng.signal("told", "stop", 5);
  auto v = h.get();
  CHECK(v.index() == 1);
  // Before the engine closes (which sets every token anyway).
  CHECK(wait_until([] { return rt_poll_returned.load(); }));
  CHECK(rt_poll_told.load());
}

TEST_CASE("a losing dynamic step's sub-graph is canceled with it: its "
          "timer is removed") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(first_of(rt_dyn(), wait_for_signal<int>("go")),
                         "dyn");
  // The sub-graph's timer is set (durably) before the race is decided.
  REQUIRE(wait_until([&] { return timers_of(eng, "dyn") == 1; }));
  eng.signal("dyn", "go", 4);
  auto v = h.get();
  REQUIRE(v.index() == 1);
  CHECK(std::get<1>(v) == 4);
  CHECK(timers_of(eng, "dyn") == 0);
  CHECK(eng.metadata("dyn", "perdure.sleep").error_text.find(
          "lost the race 'first_of'")
        != std::string::npos);
  CHECK(eng.metadata("dyn", "rt_dyn").state == step_state::continued);
}
