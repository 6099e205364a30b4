// SPDX-License-Identifier: Apache-2.0
// Calls through the public API: results, ordering, readonly concurrency and
// isolation, typed errors of get_actor.

#include <doctest/doctest.h>

#include "temp_dir.hpp"
#include "test_actors.hpp"

#include <future>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::counter;

TEST_CASE("a mutating call returns its result and a readonly call sees it") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto c = eng.actor<counter>("c");
  CHECK(c.call(&counter::incr, 10) == 10);
  CHECK(c.call(&counter::incr, 5) == 15);
  CHECK(c.call(&counter::value) == 15);
  c.call(&counter::reset);
  CHECK(c.call(&counter::value) == 0);
  CHECK(eng.get_actor<counter>("c").call(&counter::value) == 0);
}

TEST_CASE("50 async add calls return the prefix sums in submission order") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto c = eng.actor<counter>("sums");
  std::vector<call_handle<int>> hs;
  for (int i = 1; i <= 50; ++i)
    hs.push_back(c.call_async(&counter::add, i));
  int sum = 0;
  for (int i = 1; i <= 50; ++i) {
    sum += i;
    CHECK(hs[i - 1].get() == sum);
  }
  CHECK(c.call(&counter::value) == 1275);
}

TEST_CASE("a readonly method that computes a change leaves the state unchanged") {
  // Readonly methods are const: assigning a field does not compile, so the
  // only way to "change" state is on a copy, which must not leak.
  static_assert(detail::method_traits<decltype(&counter::value_plus)>::readonly);
  static_assert(!detail::method_traits<decltype(&counter::incr)>::readonly);
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto c = eng.actor<counter>("ro");
  c.call(&counter::incr, 3);
  CHECK(c.call(&counter::value_plus, 100) == 103);
  CHECK(c.call(&counter::value) == 3);
  CHECK(c.call(&counter::incr, 1) == 4);
  auto before = eng.event_log()->info("actor/ro")->last_seq;
  (void) c.call(&counter::value);
  CHECK(eng.event_log()->info("actor/ro")->last_seq == before); // logs nothing
}

TEST_CASE("10 concurrent readonly calls run side by side") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto c = eng.actor<counter>("slow");
  c.call(&counter::incr, 7);
  test::counter_meeting.reset();
  // Each call returns only once all 10 are inside the method at once:
  // calls run one after another would never meet (-1 after a minute).
  std::vector<std::future<int>> fs;
  for (int i = 0; i < 10; ++i)
    fs.push_back(std::async(std::launch::async,
                            [&] { return c.call(&counter::meeting_value, 10); }));
  for (auto& f : fs)
    CHECK(f.get() == 7);
}

TEST_CASE("a readonly call while a writer is blocked returns the committed value") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto c = eng.actor<counter>("blocked");
  c.call(&counter::incr, 41);
  test::counter_gate.close();
  auto w = c.call_async(&counter::gated_incr);
  REQUIRE(test::counter_gate.wait_inside(1)); // the writer is inside its method
  // The readonly call does not queue behind the blocked writer: it returns
  // while the gate is still closed.
  auto r = std::async(std::launch::async,
                      [&] { return c.call(&counter::value); });
  REQUIRE(r.wait_for(60s) == std::future_status::ready);
  CHECK(r.get() == 41);
  CHECK_FALSE(w.ready());
  test::counter_gate.open();
  CHECK(w.get() == 42);
  CHECK(c.call(&counter::value) == 42);
}

TEST_CASE("a readonly call_async returns before the call runs, and the call "
          "runs on the actors' pool") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto c = eng.actor<counter>("async-reader");
  c.call(&counter::incr, 5);
  test::counter_gate.close();
  // Run on this thread, call_async would not return until the gate opened.
  auto h = c.call_async(&counter::gated_value);
  CHECK_FALSE(h.ready());
  REQUIRE(test::counter_gate.wait_inside(1)); // running elsewhere meanwhile
  CHECK_FALSE(h.ready());
  test::counter_gate.open();
  CHECK(h.get() == 5);
  // Arguments are copied: the caller's temporaries may be gone when it runs.
  auto plus = c.call_async(&counter::value_plus, std::stoi("37"));
  CHECK(plus.get() == 42);
}

TEST_CASE("get_actor fails typed for a missing actor and for another class") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto missing = eng.try_get_actor<counter>("nobody");
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == errc::not_found);
  CHECK_THROWS_AS(eng.get_actor<counter>("nobody"), not_found);
  eng.actor<test::other>("o");
  auto wrong = eng.try_get_actor<counter>("o");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error() == errc::type_mismatch);
  CHECK(wrong.error().message().find("'other'") != std::string::npos);
  CHECK_THROWS_AS(eng.actor<counter>("o"), signature_mismatch);
}

TEST_CASE("get_actor finds an actor of an earlier engine with its class checked") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    eng.actor<test::other>("o2");
  }
  engine eng{{.storage = dir.path()}};
  CHECK(eng.try_get_actor<counter>("o2").error() == errc::type_mismatch);
  CHECK(eng.get_actor<test::other>("o2").call(&test::other::get) == 0);
}

TEST_CASE("actor constructor arguments apply only when the actor is created") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto a = eng.actor<counter>("ctor", counter{5});
  CHECK(a.call(&counter::value) == 5);
  auto b = eng.actor<counter>("ctor", counter{99});
  CHECK(b.call(&counter::value) == 5);
}

TEST_CASE("call_all_async runs its calls in order and a repeated key once") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    auto c = eng.actor<counter>("group");
    auto before = eng.event_log()->info("actor/group")->last_seq;
    int runs = test::executions.load();
    std::vector<std::pair<call_options, std::tuple<int>>> calls;
    for (int i = 1; i <= 5; ++i)
      calls.push_back({{.key = "k" + std::to_string(i)}, {i}});
    calls.push_back({{.key = "k2"}, {100}}); // a key of this group again
    auto hs = c.call_all_async(&counter::incr, std::move(calls));
    REQUIRE(hs.size() == 6);
    CHECK(hs[0].get() == 1);
    CHECK(hs[1].get() == 3);
    CHECK(hs[4].get() == 15);
    CHECK(hs[5].get() == 3); // k2's result, not run again
    CHECK(test::executions.load() - runs == 5);
    CHECK(eng.event_log()->info("actor/group")->last_seq == before + 5);
  }
  engine eng{{.storage = dir.path()}};
  auto c = eng.get_actor<counter>("group");
  CHECK(c.call(&counter::value) == 15);
  CHECK(c.with({.key = "k4"}).call(&counter::incr, 7) == 10); // logged
  CHECK(c.call(&counter::value) == 15);
}
