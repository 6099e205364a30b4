// SPDX-License-Identifier: Apache-2.0
// Projections over an event-sourced class: from the beginning, then live;
// resumed from their offset; reset and rebuilt; lag in /metrics; both
// delivery modes; a throwing handler.

#include <doctest/doctest.h>

#include "perdure/actors/projection.hpp"
#include "perdure/eventlog/records/projection.hpp"

#include "temp_dir.hpp"
#include "test_es_actors.hpp"
#include "wait_until.hpp"

#include <mutex>
#include <set>

using namespace perdure;
using test::deposited;
using test::ledger;
using test::overdraft_refused;
using test::withdrawn;

namespace {

/// A row per actor: its balance and how many events it had.
struct balance_row {
  long balance = 0;
  long events = 0;
  bool operator==(const balance_row&) const = default;
};
PERDURE_FIELDS(balance_row, balance, events)

void balances(const projected_event& e, projection_rows& rows) {
  auto row = rows.get_as<balance_row>(e.actor).value_or(balance_row{});
  if (auto d = e.as<deposited>())
    row.balance += d->amount;
  else if (auto w = e.as<withdrawn>())
    row.balance -= w->amount;
  else
    CHECK(e.is<overdraft_refused>());
  ++row.events;
  rows.put_as(e.actor, row);
}

/// The rows the actors' own logs imply.
std::map<std::string, balance_row> expected_rows(
  const eventlog::event_log& log, const std::vector<std::string>& ids) {
  std::map<std::string, balance_row> out;
  for (auto& id : ids) {
    test::ledger_view v;
    test::fold_log(log, id, [&](const auto&, const auto& f) { v = f; });
    if (!v.entries.empty() || v.refused)
      out[id] = {v.balance,
                 static_cast<long>(v.entries.size()) + v.refused};
  }
  return out;
}

std::map<std::string, balance_row> rows_of(engine& eng,
                                           std::string_view name) {
  auto t = projection_table(eng, name);
  REQUIRE(t);
  std::map<std::string, balance_row> out;
  for (auto& [k, v] : *t) {
    auto r = codec::decode<balance_row>(v);
    REQUIRE(r);
    out[k] = *r;
  }
  return out;
}

bool caught_up(const projection& p, std::uint64_t head) {
  return p.position() >= head && p.lag() == 0;
}

std::uint64_t feed_head(engine& eng) {
  auto i = eng.event_log()->info(projection_records::feed_stream("ledger"));
  return i ? i->last_seq : 0;
}

} // namespace

TEST_CASE("an exactly-once projection catches up, goes live, resumes and "
          "rebuilds") {
  test::temp_dir dir;
  std::vector<std::string> ids{"a", "b", "c"};
  {
    engine eng{{.storage = (dir / "s").string()}};
    for (int i = 0; i < 30; ++i) {
      auto a = eng.actor<ledger>(ids[i % 3]);
      if (i % 4 == 3)
        a.call(&ledger::withdraw, 1000); // refused
      else if (i % 5 == 0)
        a.call(&ledger::split, i, 2);
      else
        a.call(&ledger::deposit, i);
    }
    // events before the projection exists: from the beginning
    auto p = project<ledger>(eng, "balances", balances, {.batch = 7});
    auto head = feed_head(eng);
    CHECK(head == 30 + 5); // five splits emit two each
    REQUIRE(test::wait_until([&] { return caught_up(p, head); }));
    CHECK(rows_of(eng, "balances")
          == expected_rows(*eng.event_log(), ids));
    // then live
    eng.get_actor<ledger>("b").call(&ledger::deposit, 5);
    eng.actor<ledger>("d").call(&ledger::deposit, 7);
    ids.push_back("d");
    REQUIRE(test::wait_until([&] { return caught_up(p, head + 2); }));
    CHECK(rows_of(eng, "balances")
          == expected_rows(*eng.event_log(), ids));
    auto m = eng.metrics().expose();
    CHECK(m.find("perdure_projection_lag{projection=\"balances\"} 0")
          != std::string::npos);
    CHECK(p.error());
  }
  engine eng{{.storage = (dir / "s").string()}};
  auto stored = projection_records::list_projections(*eng.event_log());
  REQUIRE(stored);
  REQUIRE(stored->size() == 1);
  CHECK(stored->front().name == "balances");
  CHECK(stored->front().meta.exactly_once);
  CHECK(stored->front().lag() == 0);
  // events while it was down; it resumes from its offset
  eng.get_actor<ledger>("a").call(&ledger::deposit, 11);
  std::atomic<int> handled{0};
  auto p = project<ledger>(eng, "balances",
                           [&](const projected_event& e,
                               projection_rows& rows) {
                             ++handled;
                             balances(e, rows);
                           });
  auto head = feed_head(eng);
  REQUIRE(test::wait_until([&] { return caught_up(p, head); }));
  CHECK(handled == 1);
  CHECK(rows_of(eng, "balances") == expected_rows(*eng.event_log(), ids));
  // reset: rebuilt from the first event, the same rows
  REQUIRE(reset_projection(eng, "balances"));
  REQUIRE(test::wait_until([&] { return caught_up(p, head); }));
  CHECK(handled == static_cast<int>(head) + 1);
  CHECK(rows_of(eng, "balances") == expected_rows(*eng.event_log(), ids));
  // one name, one source and mode
  auto again = try_project<ledger>(eng, "balances", balances);
  CHECK(again.error() == errc::conflict);
  p.stop();
  auto other = try_project<ledger>(eng, "balances",
                                   [](const projected_event&) {});
  CHECK(other.error() == errc::conflict);
  CHECK(try_project<ledger>(eng, "no/slash", balances).error()
        == errc::invalid_argument);
}

TEST_CASE("an at-least-once projection sees every event in feed order") {
  test::temp_dir dir;
  engine eng{{.storage = (dir / "s").string()}};
  auto a = eng.actor<ledger>("x");
  for (int i = 0; i < 10; ++i)
    a.call(&ledger::split, i, 1);
  std::mutex mu;
  std::vector<std::uint64_t> seen;
  std::vector<std::string> types;
  auto p = project<ledger>(eng, "log", [&](const projected_event& e) {
    std::lock_guard g{mu};
    seen.push_back(e.position);
    types.emplace_back(e.type);
    CHECK(e.actor == "x");
    CHECK(e.seq >= 2);
  }, {.batch = 3});
  REQUIRE(test::wait_until([&] { return caught_up(p, 20); }));
  std::lock_guard g{mu};
  REQUIRE(seen.size() == 20);
  for (std::size_t i = 0; i < seen.size(); ++i)
    CHECK(seen[i] == i + 1);
  CHECK(std::set<std::string>(types.begin(), types.end())
        == std::set<std::string>{"deposited"});
  auto off = eng.event_log()->offset(projection_records::offset_key("log"));
  REQUIRE(off);
  CHECK(off->value_or(0) == 20);
}

TEST_CASE("a throwing handler stops the projection before that event") {
  test::temp_dir dir;
  engine eng{{.storage = (dir / "s").string()}};
  auto a = eng.actor<ledger>("y");
  for (int i = 1; i <= 5; ++i)
    a.call(&ledger::deposit, i);
  auto exactly = project<ledger>(
    eng, "rows", [](const projected_event& e, projection_rows& rows) {
      if (e.position == 4)
        throw std::runtime_error("row four");
      balances(e, rows);
    }, {.batch = 2});
  auto least = project<ledger>(eng, "each", [](const projected_event& e) {
    if (e.position == 4)
      throw std::runtime_error("event four");
  }, {.batch = 2});
  REQUIRE(test::wait_until([&] { return !exactly.error() && !least.error(); }));
  CHECK(exactly.error() == errc::failed);
  CHECK(exactly.error().message().find("row four") != std::string::npos);
  // batches of two: 1-2 committed, 3 with 4 was dropped (exactly-once);
  // at-least-once keeps 3, handled before the throw
  CHECK(exactly.position() == 2);
  CHECK(least.position() == 3);
  auto rows = rows_of(eng, "rows");
  REQUIRE(rows.count("y"));
  CHECK(rows["y"] == balance_row{3, 2});
}

TEST_CASE("projection rows: erase removes a row, a bad key fails clearly") {
  test::temp_dir dir;
  engine eng{{.storage = (dir / "s").string()}};
  eng.actor<ledger>("keep").call(&ledger::deposit, 5);
  auto gone = eng.actor<ledger>("gone");
  gone.call(&ledger::deposit, 5);
  auto p = project<ledger>(
    eng, "open", [](const projected_event& e, projection_rows& rows) {
      if (e.is<withdrawn>())
        rows.erase(e.actor);
      else
        rows.put_as(e.actor, 1);
    });
  REQUIRE(test::wait_until([&] { return caught_up(p, 2); }));
  CHECK(projection_table(eng, "open")->size() == 2);
  // erased in a later batch than the one that wrote it
  gone.call(&ledger::withdraw, 1);
  REQUIRE(test::wait_until([&] { return caught_up(p, 3); }));
  auto t = projection_table(eng, "open");
  REQUIRE(t);
  CHECK(t->size() == 1);
  CHECK(t->count("keep") == 1);
  auto bad = project<ledger>(
    eng, "bad", [](const projected_event&, projection_rows& rows) {
      rows.put("", "x");
    });
  REQUIRE(test::wait_until([&] { return !bad.error(); }));
  CHECK(bad.error() == errc::failed);
  CHECK(bad.error().message().find("bad row key") != std::string::npos);
  CHECK(bad.position() == 0);
}

TEST_CASE("with event_feed off an event-sourced call writes no feed record "
          "and project() refuses") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  REQUIRE(configure_actors(eng, {.event_feed = false}));
  auto a = eng.actor<ledger>("nf");
  a.call(&ledger::deposit, 5L);
  CHECK(a.call(&ledger::view).balance == 5);
  auto feed = eng.event_log()->info(projection_records::feed_stream("ledger"));
  CHECK_FALSE(feed);
  auto p = try_project<ledger>(eng, "nofeed",
                               [](const projected_event&) {});
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::invalid_argument);
  CHECK(p.error().message().find("event_feed") != std::string::npos);
}
