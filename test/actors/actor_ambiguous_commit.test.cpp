// SPDX-License-Identifier: Apache-2.0
// A commit reported as failed that took effect all the same: a replicated
// log (the cluster's Kafka partition) may apply a group whose caller it
// told `closed` (its fate was unknown when the owner stepped down) or that
// timed out. The actor must not stay behind its own stream: it reads its
// state from the log again once nothing is in flight, so the next call
// builds on what the log holds and the failed call's retry, by its key,
// answers the logged result without running again.

#include "temp_dir.hpp"
#include "test_actors.hpp"
#include "test_replicator.hpp"

#include <doctest/doctest.h>

using namespace perdure;
using test::counter;

TEST_CASE("a call whose commit was reported failed but took effect: the "
          "actor reads its state again, goes on, and the retry answers the "
          "logged result") {
  test::temp_dir dir;
  auto rep = std::make_shared<test::test_replicator>();
  auto opened = test::open_replicated(dir / "log", rep);
  REQUIRE_MESSAGE(opened, opened.as_status().to_string());
  auto log = *opened;
  {
    engine eng{{.storage = dir / "engine", .event_log = log}};
    auto c = eng.actor<counter>("amb");
    CHECK(c.call(&counter::add, 1) == 1);
    rep->next({.lie = {errc::closed, "the owner stepped down"}});
    int before = test::executions;
    auto keyed = c.with({.key = "pay-7"});
    auto lost = keyed.try_call(&counter::incr, 10);
    REQUIRE_FALSE(lost);
    // The log's code reaches the caller: its fate is unknown, not an io
    // failure.
    CHECK(lost.error().code() == errc::closed);
    CHECK(test::executions - before == 1);
    // The log holds the call: its retry answers what it logged, the next
    // call builds on it (before the fix: conflict on every call, forever).
    auto again = keyed.try_call(&counter::incr, 10);
    REQUIRE_MESSAGE(again, again.error().to_string());
    CHECK(*again == 11);
    CHECK(test::executions - before == 1);
    CHECK(c.call(&counter::add, 100) == 111);
    CHECK(c.call(&counter::value) == 111);
  }
  rep->stop();
}
