// SPDX-License-Identifier: Apache-2.0
// Event-sourced actors: events logged instead of the state, the fold equal
// to the live state at every seq, snapshots between calls, and the
// machinery of state-logged actors (keys, passivation, call_all_async).

#include <doctest/doctest.h>

#include "temp_dir.hpp"
#include "test_es_actors.hpp"
#include "wait_until.hpp"

#include <map>
#include <random>

using namespace perdure;
using namespace std::chrono_literals;
using test::ledger;
using test::ledger_view;

namespace {

std::size_t count_kind(const eventlog::event_log& log, const std::string& id,
                       eventlog::record_kind k) {
  std::size_t n = 0;
  test::fold_log(log, id,
                 [&](const eventlog::record_view& r, const ledger_view&) {
                   n += r.kind == eventlog::to_u16(k);
                 });
  return n;
}

const auto es_double = step("es_double", [](long x) { return 2 * x; });

struct es_planner : event_sourced<es_planner, test::deposited> {
  long total = 0;
  void apply(const test::deposited& e) {
    total += e.amount;
  }
  /// Emits, then hands the result to a sub-workflow.
  workflow<long> settle(long n) {
    emit(test::deposited{n});
    return es_double(total);
  }
  long add(long n) {
    emit(test::deposited{n});
    return total;
  }
  long sum() const {
    return total;
  }
};
PERDURE_ACTOR(es_planner, (total), (settle, add, sum))

struct echoer : event_sourced<echoer, test::deposited> {
  long total = 0;
  void apply(const test::deposited& e) {
    total += e.amount;
    if (e.amount > 100)
      emit(test::deposited{1}); // refused: a replay would apply it twice
  }
  long add(long n) {
    emit(test::deposited{n});
    return total;
  }
};
PERDURE_ACTOR(echoer, (total), (add))

/// One apply over all its events.
struct visitor_account
  : event_sourced<visitor_account, test::deposited, test::withdrawn> {
  long balance = 0;
  int seen = 0;
  void apply(const event_variant& e) {
    ++seen;
    std::visit(
      [&](const auto& x) {
        using E = std::decay_t<decltype(x)>;
        balance += std::is_same_v<E, test::deposited> ? x.amount : -x.amount;
      },
      e);
  }
  long move(long n) {
    if (n >= 0)
      emit(test::deposited{n});
    else
      emit(test::withdrawn{-n});
    return balance;
  }
  int events() const {
    return seen;
  }
};
PERDURE_ACTOR(visitor_account, (balance, seen), (move, events))

} // namespace

TEST_CASE("an event-sourced method may return a sub-workflow") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    auto p = eng.actor<es_planner>("plan");
    auto h = p.with({.key = "s1"}).call_async(&es_planner::settle, 5L);
    auto next = p.call_async(&es_planner::add, 1L); // waits for the workflow
    CHECK(h.get() == 10);
    CHECK(next.get() == 6);
    CHECK(p.with({.key = "s1"}).call(&es_planner::settle, 5L) == 10);
    CHECK(eng.status("actor/plan/s1") == workflow_status::successful);
  }
  engine eng{{.storage = dir.path()}};
  auto p = eng.get_actor<es_planner>("plan");
  CHECK(p.call(&es_planner::sum) == 6);
  CHECK(p.with({.key = "s1"}).call(&es_planner::settle, 5L) == 10);
}

TEST_CASE("one apply over the event variant folds every event type") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    auto a = eng.actor<visitor_account>("v");
    CHECK(a.call(&visitor_account::move, 10L) == 10);
    CHECK(a.call(&visitor_account::move, -3L) == 7);
  }
  engine eng{{.storage = dir.path()}};
  auto a = eng.get_actor<visitor_account>("v");
  CHECK(a.call(&visitor_account::events) == 2);
  CHECK(a.call(&visitor_account::move, 1L) == 8);
}

TEST_CASE("an event handler that emits fails the call and logs nothing") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto a = eng.actor<echoer>("echo");
  CHECK(a.call(&echoer::add, 5L) == 5);
  auto r = a.try_call(&echoer::add, 500L);
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::failed);
  CHECK(r.error().message().find("inside apply") != std::string::npos);
  CHECK(a.call(&echoer::add, 1L) == 6);
}

TEST_CASE("an event-sourced actor logs its events, not its state") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto a = eng.actor<ledger>("acct");
  CHECK(a.call(&ledger::deposit, 100L).balance == 100);
  auto v = a.call(&ledger::withdraw, 130L);
  CHECK(v.balance == 100);
  CHECK(v.refused == 1);
  v = a.call(&ledger::split, 5L, 7L);
  CHECK(v.entries == std::vector<long>{100, 5, 9}); // 7 + 2 entries seen
  CHECK(a.call(&ledger::view).balance == 114);
  auto log = eng.event_log();
  std::vector<std::vector<std::string>> types;
  auto st = log->scan("actor/acct", 1, [&](const eventlog::record_view& r) {
    CHECK(r.kind != eventlog::to_u16(eventlog::record_kind::actor_called));
    if (r.kind == eventlog::to_u16(eventlog::record_kind::actor_events)) {
      auto c = codec::decode<actor_records::events_called>(r.payload);
      REQUIRE(c);
      auto& t = types.emplace_back();
      for (auto& e : c->events) {
        t.push_back(e.type);
        CHECK_FALSE(e.signature.empty());
      }
    }
    return true;
  });
  REQUIRE(st);
  CHECK(types == std::vector<std::vector<std::string>>{
                   {"deposited"}, {"overdraft_refused"},
                   {"deposited", "deposited"}});
}

TEST_CASE("a method that throws after emitting logs no event and keeps the "
          "state") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto a = eng.actor<ledger>("f");
  a.call(&ledger::deposit, 10L);
  CHECK_THROWS_AS(a.call(&ledger::fail_after, 5L), method_failed);
  CHECK(a.call(&ledger::view).balance == 10);
  CHECK(a.call(&ledger::deposit, 1L).entries == std::vector<long>{10, 1});
}

TEST_CASE("the fold of the log equals the live state after every call") {
  test::temp_dir dir;
  std::mt19937 rng{std::random_device{}()};
  auto seed = rng();
  INFO("seed " << seed);
  rng.seed(seed);
  std::map<std::string, ledger_view> returned; // key -> what the call gave
  ledger_view last;
  {
    // Durable against a process crash is enough here (and fast).
    engine eng{{.storage = dir.path(),
                .durability = eventlog::durability::process}};
    // Results are whole ledgers: a small key window keeps snapshots small.
    REQUIRE(configure_actors(eng, {.key_window = 16,
                                   .events_per_snapshot = 37,
                                   .event_bytes_per_snapshot = 1500}));
    auto a = eng.actor<ledger>("fold");
    for (int i = 0; i < 1000; ++i) {
      auto key = "k" + std::to_string(i);
      auto r = a.with({.key = key});
      long n = static_cast<long>(rng() % 100);
      switch (rng() % 5) {
        case 0: last = r.call(&ledger::withdraw, n); break;
        case 1: last = r.call(&ledger::split, n, n / 2); break;
        case 2: last = r.call(&ledger::touch); break;
        case 3:
          CHECK_THROWS_AS(r.call(&ledger::fail_after, n), method_failed);
          continue; // logged as a failure; the state stays
        default: last = r.call(&ledger::deposit, n); break;
      }
      returned[key] = last;
    }
    CHECK(count_kind(*eng.event_log(), "fold",
                     eventlog::record_kind::actor_snapshot) > 5);
  }
  engine eng{{.storage = dir.path()}};
  std::size_t checked = 0;
  ledger_view folded;
  test::fold_log(*eng.event_log(), "fold",
                 [&](const eventlog::record_view& r, const ledger_view& v) {
    folded = v;
    if (r.kind != eventlog::to_u16(eventlog::record_kind::actor_events))
      return;
    auto c = codec::decode<actor_records::events_called>(r.payload);
    REQUIRE(c);
    auto it = returned.find(c->key);
    REQUIRE(it != returned.end());
    CHECK(it->second == v);
    ++checked;
  });
  CHECK(checked == returned.size());
  CHECK(folded == last);
  // Activation (latest snapshot + later events) gives the same state.
  CHECK(eng.get_actor<ledger>("fold").call(&ledger::view) == last);
}

TEST_CASE("snapshots of an event-sourced actor are logged between calls") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  REQUIRE(configure_actors(eng, {.keep_history = false,
                                 .events_per_snapshot = 10}));
  auto a = eng.actor<ledger>("snap");
  for (long i = 1; i <= 55; ++i)
    a.call(&ledger::deposit, i);
  auto log = eng.event_log();
  // Snapshots come in batches of their own, after a call is answered;
  // results are whole ledgers, so snapshots (which keep them under their
  // keys) grow and come further apart (actor_snapshot_size.test.cpp).
  REQUIRE(test::wait_until([&] {
    auto info = log->info("actor/snap");
    return info && info->snapshot_seq > 30;
  }));
  auto info = log->info("actor/snap");
  REQUIRE(info);
  // keep_history = false: only the latest snapshot and what follows stay.
  CHECK(info->first_seq == info->snapshot_seq);
  auto r = log->read("actor/snap", info->snapshot_seq, 1);
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  CHECK(r->front().kind
        == eventlog::to_u16(eventlog::record_kind::actor_snapshot));
}

TEST_CASE("an event-sourced call's key returns the logged result, also after "
          "a restart") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    auto a = eng.actor<ledger>("idem");
    int before = test::ledger_runs;
    CHECK(a.with({.key = "pay-1"}).call(&ledger::deposit, 40L).balance == 40);
    CHECK(a.with({.key = "pay-1"}).call(&ledger::deposit, 40L).balance == 40);
    CHECK(test::ledger_runs - before == 1);
    CHECK_THROWS_AS(a.with({.key = "bad"}).call(&ledger::fail_after, 1L),
                    method_failed);
    CHECK_THROWS_AS(a.with({.key = "bad"}).call(&ledger::fail_after, 1L),
                    method_failed);
    CHECK(test::ledger_runs - before == 2);
  }
  engine eng{{.storage = dir.path()}};
  auto a = eng.get_actor<ledger>("idem");
  int before = test::ledger_runs;
  CHECK(a.with({.key = "pay-1"}).call(&ledger::deposit, 40L).balance == 40);
  CHECK_THROWS_AS(a.with({.key = "bad"}).call(&ledger::fail_after, 1L),
                  method_failed);
  CHECK(test::ledger_runs == before);
  CHECK(a.call(&ledger::view).entries == std::vector<long>{40});
}

TEST_CASE("a passivated event-sourced actor comes back folded") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  REQUIRE(configure_actors(eng, {.idle_timeout = 20ms,
                                 .events_per_snapshot = 4}));
  auto a = eng.actor<ledger>("idle");
  for (long i = 1; i <= 10; ++i)
    a.call(&ledger::deposit, i);
  REQUIRE(test::wait_until([&] { return active_actors(eng) == 0; }));
  // Reactivated by a readonly call, then by a mutating one.
  CHECK(a.call(&ledger::view).balance == 55);
  REQUIRE(test::wait_until([&] { return active_actors(eng) == 0; }));
  auto v = a.call(&ledger::withdraw, 5L);
  CHECK(v.balance == 50);
  CHECK(v.entries.size() == 11);
}

TEST_CASE("call_all_async on an event-sourced actor logs one batch in order") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto a = eng.actor<ledger>("batch");
  std::vector<std::pair<call_options, std::tuple<long>>> calls;
  for (long i = 1; i <= 50; ++i)
    calls.push_back({{.key = "b" + std::to_string(i)}, {i}});
  calls.push_back({{.key = "b3"}, {1000L}}); // a repeated key: not run
  auto hs = a.call_all_async(&ledger::deposit, std::move(calls));
  REQUIRE(hs.size() == 51);
  long sum = 0;
  for (long i = 1; i <= 50; ++i) {
    sum += i;
    CHECK(hs[i - 1].get().balance == sum);
  }
  CHECK(hs[50].get().balance == 6); // b3's logged result
  CHECK(a.call(&ledger::view).balance == 1275);
  CHECK(count_kind(*eng.event_log(), "batch",
                   eventlog::record_kind::actor_events) == 50);
}

TEST_CASE("readonly calls see the event-sourced state after the last durable "
          "event") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto a = eng.actor<ledger>("ro");
  std::vector<call_handle<ledger_view>> hs;
  for (long i = 0; i < 20; ++i)
    hs.push_back(a.call_async(&ledger::deposit, 1L));
  for (auto& h : hs) {
    auto done = h.get().balance;
    // Never behind the call just answered, never a half-applied call.
    auto seen = a.call(&ledger::view);
    CHECK(seen.balance >= done);
    CHECK(seen.balance == static_cast<long>(seen.entries.size()));
  }
}
