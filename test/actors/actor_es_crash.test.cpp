// SPDX-License-Identifier: Apache-2.0
// An event-sourced actor killed (SIGKILL) mid-stream, with snapshots taken
// at random points, recovers exactly the state of the calls it logged.

#include <doctest/doctest.h>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "test_es_actors.hpp"

#include <cstdio>
#include <random>

using namespace perdure;
using test::ledger;
using test::ledger_view;

namespace {

// Starts call `i` of the stream; every one emits at least one event.
call_handle<ledger_view> start_nr(const actor_ref<ledger>& a, long i) {
  auto r = a.with({.key = "c" + std::to_string(i)});
  if (i % 7 == 3)
    return r.call_async(&ledger::split, i % 5, i % 3);
  if (i % 3 == 0)
    return r.call_async(&ledger::withdraw, i % 50 + 1);
  return r.call_async(&ledger::deposit, i % 17 + 1);
}

ledger_view call_nr(const actor_ref<ledger>& a, long i) {
  return start_nr(a, i).get();
}

// The state after calls 0..k-1, computed without the engine.
ledger_view model(long k) {
  ledger l;
  for (long i = 0; i < k; ++i) {
    if (i % 7 == 3)
      l.split(i % 5, i % 3);
    else if (i % 3 == 0)
      l.withdraw(i % 50 + 1);
    else
      l.deposit(i % 17 + 1);
  }
  return l.view();
}

} // namespace

PERDURE_CHILD_ENTRY("es_ledger_crash") {
  engine eng{{.storage = args.at(0)}};
  auto every = static_cast<std::uint32_t>(std::stoul(args.at(1)));
  auto bytes = std::stoul(args.at(2));
  if (!configure_actors(eng, {.key_window = 16,
                              .events_per_snapshot = every,
                              .event_bytes_per_snapshot = bytes}))
    return 2;
  auto a = eng.actor<ledger>("crash");
  // Windows of 1..8 calls in flight at once (pipelined batches, snapshot
  // batches between them), each window waited for before the next.
  std::mt19937 rng{std::random_device{}()};
  for (long i = std::stol(args.at(3)); i < 1'000'000;) {
    std::vector<call_handle<ledger_view>> window;
    for (auto n = 1 + rng() % 8; n > 0; --n)
      window.push_back(start_nr(a, i++));
    for (auto& h : window)
      h.get();
    std::printf("done %ld\n", i - 1);
    std::fflush(stdout);
  }
  return 0;
}

TEST_CASE("an event-sourced actor killed mid-stream recovers the state of "
          "its logged calls, snapshots at random points") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  std::mt19937 rng{std::random_device{}()};
  auto seed = rng();
  INFO("seed " << seed);
  rng.seed(seed);
  long next = 0; // the first call the next child makes
  for (int round = 0; round < 4; ++round) {
    auto every = std::to_string(1 + rng() % 40);
    auto bytes = std::to_string(200 + rng() % 4000);
    long target = next + 20 + static_cast<long>(rng() % 150);
    long seen = -1;
    {
      // Starts one call back: its key was logged, so it repeats the
      // logged result without running.
      test::child_process child{
        "es_ledger_crash",
        {storage, every, bytes, std::to_string(next > 0 ? next - 1 : 0)}};
      while (seen < target) {
        auto line = child.read_line();
        REQUIRE(line.rfind("done ", 0) == 0);
        seen = std::stol(line.substr(5));
      }
      child.kill();
    }
    engine eng{{.storage = storage}};
    auto v = eng.get_actor<ledger>("crash").call(&ledger::view);
    // The calls answered are durable, and the calls after them that the
    // child made before it died may be: a prefix of the stream of calls.
    long k = seen + 1;
    while (model(k).entries.size() < v.entries.size())
      ++k;
    INFO("round " << round << " seen " << seen << " recovered " << k);
    CHECK(v == model(k));
    CHECK(k >= seen + 1);
    ledger_view folded;
    test::fold_log(*eng.event_log(), "crash",
                   [&](const eventlog::record_view&, const ledger_view& f) {
                     folded = f;
                   });
    CHECK(folded == v);
    next = k;
  }
  // The last logged call's key answers without running it.
  engine eng{{.storage = storage}};
  auto a = eng.get_actor<ledger>("crash");
  auto expected = model(next);
  int runs = test::ledger_runs;
  CHECK(call_nr(a, next - 1) == expected);
  CHECK(test::ledger_runs == runs);
}
