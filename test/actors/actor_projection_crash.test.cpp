// SPDX-License-Identifier: Apache-2.0
// Projections killed (SIGKILL) ten times while events flow: exactly-once
// ends with exactly the rows the events imply, at-least-once misses no
// event.

#include <doctest/doctest.h>

#include "perdure/actors/projection.hpp"
#include "perdure/eventlog/records/projection.hpp"

#include "child_process.hpp"
#include "projection_kills.hpp"
#include "temp_dir.hpp"
#include "test_es_actors.hpp"
#include "wait_until.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>

using namespace perdure;
using test::deposited;
using test::ledger;
using test::withdrawn;

namespace {

struct crash_row {
  long balance = 0;
  long events = 0;
  bool operator==(const crash_row&) const = default;
};
PERDURE_FIELDS(crash_row, balance, events)

void rows_handler_fn(const projected_event& e, projection_rows& rows) {
  auto row = rows.get_as<crash_row>(e.actor).value_or(crash_row{});
  if (auto d = e.as<deposited>())
    row.balance += d->amount;
  else if (auto w = e.as<withdrawn>())
    row.balance -= w->amount;
  ++row.events;
  rows.put_as(e.actor, row);
}

const std::vector<std::string> actor_ids{"p0", "p1", "p2", "p3"};

// Starts the projection of `mode` ("exactly" or "least", the latter
// appending each event's position to file `seen`).
projection start(engine& eng, const std::string& mode,
                 const std::string& seen, std::size_t batch) {
  if (mode == "exactly")
    return project<ledger>(eng, "crash", rows_handler_fn, {.batch = batch});
  int fd = ::open(seen.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot open " + seen);
  return project<ledger>(eng, "crash", [fd](const projected_event& e) {
    auto line = std::to_string(e.position) + "\n";
    if (::write(fd, line.data(), line.size())
        != static_cast<ssize_t>(line.size()))
      throw std::runtime_error("cannot write the seen file");
  }, {.batch = batch});
}

} // namespace

// args: storage, mode, seen file, batch. Calls flow on four actors while
// the projection runs; prints its position after each window of calls.
PERDURE_CHILD_ENTRY("projection_crash") {
  engine eng{{.storage = args.at(0)}};
  auto p = start(eng, args.at(1), args.at(2), std::stoul(args.at(3)));
  std::mt19937 rng{std::random_device{}()};
  std::vector<actor_ref<ledger>> refs;
  for (auto& id : actor_ids)
    refs.push_back(eng.actor<ledger>(id));
  for (long i = 0; i < 1'000'000; ++i) {
    std::vector<call_handle<test::ledger_view>> window;
    for (auto& a : refs) {
      auto n = static_cast<long>(rng() % 40);
      if (n % 5 == 0)
        window.push_back(a.call_async(&ledger::withdraw, n + 1));
      else if (n % 7 == 0)
        window.push_back(a.call_async(&ledger::split, n, 1));
      else
        window.push_back(a.call_async(&ledger::deposit, n));
    }
    for (auto& h : window)
      h.get();
    if (!p.error())
      return 3;
    std::printf("pos %llu\n", static_cast<unsigned long long>(p.position()));
    std::fflush(stdout);
  }
  return 0;
}

namespace {

// Kills the projection's child ten times on observed progress; then the
// test lets it catch up in this process.
void crash_rounds(const std::string& mode, const std::string& storage,
                  const std::string& seen) {
  test::kill_on_progress(
    "projection_crash",
    [&](int, std::mt19937& rng) {
      return std::vector<std::string>{storage, mode, seen,
                                      std::to_string(1 + rng() % 50)};
    },
    200);
}

} // namespace

TEST_CASE("an exactly-once projection killed ten times while events flow "
          "ends with exactly the rows of the events") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  crash_rounds("exactly", storage, "");
  engine eng{{.storage = storage}};
  auto p = start(eng, "exactly", "", 100);
  auto head = eng.event_log()
                ->info(projection_records::feed_stream("ledger"))
                ->last_seq;
  REQUIRE(test::wait_until([&] { return p.position() >= head; }));
  CHECK(p.error());
  auto table = projection_table(eng, "crash");
  REQUIRE(table);
  long total = 0;
  for (auto& id : actor_ids) {
    test::ledger_view v;
    test::fold_log(*eng.event_log(), id,
                   [&](const auto&, const auto& f) { v = f; });
    crash_row want{v.balance,
                   static_cast<long>(v.entries.size()) + v.refused};
    total += want.events;
    INFO("actor " << id);
    REQUIRE(table->count(id));
    auto got = codec::decode<crash_row>(table->at(id));
    REQUIRE(got);
    CHECK(*got == want);
  }
  CHECK(table->size() == actor_ids.size());
  CHECK(static_cast<std::uint64_t>(total) == head);
}

TEST_CASE("an at-least-once projection killed ten times while events flow "
          "misses no event") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  auto seen = (dir / "seen.txt").string();
  crash_rounds("least", storage, seen);
  std::uint64_t head = 0;
  {
    engine eng{{.storage = storage}};
    auto p = start(eng, "least", seen, 100);
    head = eng.event_log()
             ->info(projection_records::feed_stream("ledger"))
             ->last_seq;
    REQUIRE(test::wait_until([&] { return p.position() >= head; }));
    CHECK(p.error());
  }
  std::set<std::uint64_t> got;
  std::size_t lines = 0;
  std::ifstream in{seen};
  for (std::uint64_t v; in >> v; ++lines)
    got.insert(v);
  CHECK(got.size() == head);
  CHECK(*got.begin() == 1);
  CHECK(*got.rbegin() == head);
  MESSAGE("at-least-once: " << lines << " deliveries of " << head
                            << " events");
}
