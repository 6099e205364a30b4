// SPDX-License-Identifier: Apache-2.0
// Signals through the public API: wait_for_signal<T>(name) and
// engine::signal, sent before, during and after the wait.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <string>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

std::atomic<bool> gate_open{false};

// Holds its workflow before the waits until the test opens the gate.
const auto sig_gate = step("sig_gate", [] {
  wait_until([] { return gate_open.load(); });
  return 0;
});

flow<std::vector<int>> collect_impl(int, int n, std::vector<int> acc);
const auto sig_collect = step("sig_collect", collect_impl);

// Waits for `n` signals "v", one after the other (a loop of waits).
flow<std::vector<int>> collect_impl(int v, int n, std::vector<int> acc) {
  if (v >= 0)
    acc.push_back(v);
  if (n == 0)
    return acc;
  return sig_collect(wait_for_signal<int>("v"), n - 1, std::move(acc));
}

const auto sig_pair = step("sig_pair", [](int a, int b) {
  return std::vector<int>{a, b};
});

const auto sig_after_gate = step("sig_after_gate",
                                 [](int) -> workflow<std::string> {
                                   return wait_for_signal<std::string>("s");
                                 });

const auto sig_boom = step("sig_boom", []() -> int {
  throw std::runtime_error{"boom"};
});

struct approval {
  std::string by;
  bool ok = false;
};
PERDURE_FIELDS(approval, by, ok)

std::vector<std::uint16_t> kinds_of(engine& eng, const std::string& id) {
  std::vector<std::uint16_t> out;
  auto recs = eng.event_log()->read(id).value();
  for (auto& r : recs)
    out.push_back(r.kind);
  return out;
}

bool exists(engine& eng, const std::string& id) {
  return eng.try_status(id).has_value();
}

} // namespace

TEST_CASE("a signal sent before the workflow reaches its wait is kept and "
          "consumed by the wait") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  gate_open = false;
  auto h = eng.run_async(sig_after_gate(sig_gate()), "early");
  REQUIRE(wait_until([&] { return exists(eng, "early"); }));
  eng.signal("early", "s", "hello");
  CHECK(eng.status("early") == workflow_status::running);
  gate_open = true;
  CHECK(h.get() == "hello");
  // Logged under a step id naming the signal.
  CHECK(eng.metadata("early", "signal:s").state == step_state::succeeded);
}

TEST_CASE("a signal sent while the workflow waits wakes the wait") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(wait_for_signal<approval>("approve"), "during");
  REQUIRE(wait_until([&] { return exists(eng, "during"); }));
  eng.signal("during", "approve", approval{"ann", true});
  auto a = h.get();
  CHECK(a.by == "ann");
  CHECK(a.ok);
  // Logged once, as the wait's event.
  auto kinds = kinds_of(eng, "during");
  CHECK(std::count(kinds.begin(), kinds.end(),
                   eventlog::to_u16(eventlog::record_kind::event_received))
        == 1);
  CHECK(eng.metadata("during", "signal:approve").state
        == step_state::succeeded);
}

TEST_CASE("signals of one name are consumed in send order by successive "
          "waits, each once") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  gate_open = false;
  auto h = eng.run_async(sig_collect(sig_gate(), 5, std::vector<int>{}),
                         "loop");
  REQUIRE(wait_until([&] { return exists(eng, "loop"); }));
  for (int i = 1; i <= 3; ++i)
    eng.signal("loop", "v", i);
  eng.signal("loop", "other", 99); // another name: not consumed
  gate_open = true;
  // Two more while the loop runs.
  eng.signal("loop", "v", 4);
  eng.signal("loop", "v", 5);
  auto got = h.get();
  CHECK(got == std::vector<int>{0, 1, 2, 3, 4, 5});
  // Refused afterwards, and nothing stored.
  auto before = eng.event_log()->info("signals/loop").value().last_seq;
  auto st = eng.try_signal("loop", "v", 6);
  CHECK(st.code() == errc::conflict);
  CHECK(st.message().find("'loop'") != std::string::npos);
  CHECK(st.message().find("successful") != std::string::npos);
  CHECK(eng.event_log()->info("signals/loop").value().last_seq == before);
}

TEST_CASE("two waits of one name in one workflow get different signals") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(
    sig_pair(wait_for_signal<int>("p"), wait_for_signal<int>("p")), "two");
  REQUIRE(wait_until([&] { return exists(eng, "two"); }));
  eng.signal("two", "p", 1);
  eng.signal("two", "p", 2);
  auto got = h.get();
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<int>{1, 2});
}

TEST_CASE("signals to unknown, canceled and failed workflows are refused "
          "and store nothing") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto st = eng.try_signal("nobody", "x", 1);
  CHECK(st.code() == errc::not_found);
  CHECK(st.message().find("'nobody'") != std::string::npos);
  CHECK_THROWS_AS(eng.signal("nobody", "x", 1), perdure::not_found);

  auto h = eng.run_async(wait_for_signal<int>("never"), "cx");
  REQUIRE(wait_until([&] { return exists(eng, "cx"); }));
  eng.cancel("cx");
  st = eng.try_signal("cx", "never", 1);
  CHECK(st.code() == errc::canceled);
  CHECK(st.message().find("'cx' is canceled") != std::string::npos);
  CHECK(eng.event_log()->info("signals/cx").error() == errc::not_found);

  auto f = eng.try_run(sig_boom.options({.max_attempts = 1})(), "fx");
  REQUIRE(!f);
  st = eng.try_signal("fx", "x", 1);
  CHECK(st.code() == errc::conflict);
  CHECK(st.message().find("failed") != std::string::npos);
  CHECK(eng.event_log()->info("signals/fx").error() == errc::not_found);

  CHECK(eng.try_signal("cx", "", 1).code() == errc::invalid_argument);
  CHECK_THROWS_AS(wait_for_signal<int>(std::string(65, 'n')), perdure::error);
}

TEST_CASE("a signal whose value does not fit the wait fails the workflow "
          "with an error naming the signal") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(wait_for_signal<int>("n"), "typed");
  REQUIRE(wait_until([&] { return exists(eng, "typed"); }));
  eng.signal("typed", "n", "not a number");
  auto r = h.try_get();
  REQUIRE(!r);
  CHECK(r.error().code() == errc::failed);
  CHECK(r.error().message().find("signal 'n'") != std::string::npos);
  CHECK(eng.status("typed") == workflow_status::failed);
}

TEST_CASE("a removed workflow's id starts without the old signals") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  gate_open = true;
  auto h = eng.run_async(sig_collect(sig_gate(), 1, std::vector<int>{}),
                         "reuse");
  REQUIRE(wait_until([&] { return exists(eng, "reuse"); }));
  eng.signal("reuse", "v", 7);
  CHECK(h.get() == std::vector<int>{0, 7});
  eng.remove("reuse");
  CHECK(eng.event_log()->info("signals/reuse").error() == errc::not_found);
  h = eng.run_async(sig_collect(sig_gate(), 1, std::vector<int>{}), "reuse");
  REQUIRE(wait_until([&] { return exists(eng, "reuse"); }));
  eng.signal("reuse", "v", 8);
  CHECK(h.get() == std::vector<int>{0, 8});
}
