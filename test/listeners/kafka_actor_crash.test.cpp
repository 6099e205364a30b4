// SPDX-License-Identifier: Apache-2.0
// Exactly-once from Kafka into virtual actors across SIGKILL: the broker (a
// mock cluster in this test process) keeps its records while consumer
// processes delivering to account actors (`deliver_to`) are killed at
// random points and restarted; at the end every account's balance is the
// exact sum of its records, each applied once.

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/listeners/kafka_actors.hpp"

#include "child_process.hpp"
#include "listener_test_support.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <random>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

constexpr int records = 10'000;
constexpr int partitions = 4;
constexpr int accounts = 97;

struct crash_account {
  long long balance = 0;
  long long applied = 0;
  long long deposit(const kafka_record& r) {
    balance += std::stoll(r.value);
    ++applied;
    return balance;
  }
  long long value() const {
    return balance;
  }
  long long count() const {
    return applied;
  }
};
PERDURE_ACTOR(crash_account, (balance, applied), (deposit, value, count))

kafka_source source_of(const std::string& brokers) {
  // Small batches: many offset commits, so kills land between and inside
  // them (calls applied, offsets not yet stored).
  return {.brokers = brokers, .topic = "accounts", .group = "actor-crash",
          .max_batch = 250};
}

// Calls applied so far (`actor_called` records of every account): more
// than the stored offsets means a kill left calls durable beyond the stored offsets,
// which the next consumer meets again.
std::int64_t applied(const std::string& storage) {
  auto log = eventlog::event_log::open(test::reader_options(storage));
  if (!log)
    return 0;
  std::int64_t n = 0;
  for (int a = 0; a < accounts; ++a) {
    auto recs = (*log)->read("actor/a" + std::to_string(a));
    if (!recs)
      continue;
    for (auto& r : *recs)
      n += r.kind == eventlog::to_u16(eventlog::record_kind::actor_called);
  }
  return n;
}

// The same, on the open log of `eng`.
std::int64_t taken_live(engine& eng, const kafka_source& src) {
  std::int64_t n = 0;
  for (int p = 0; p < partitions; ++p)
    n += eng.event_log()->offset(offset_key(src, p)).value().value_or(0);
  return n;
}

} // namespace

PERDURE_CHILD_ENTRY("kafka_actor_consumer") {
  engine eng{{.storage = args.at(0)}};
  eng.resume_all();
  auto sub = eng.subscribe(source_of(args.at(1)),
                           deliver_to(&crash_account::deposit));
  std::printf("subscribed\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(120s);
  return 0;
}

TEST_CASE("every record is applied exactly once to its account actor across "
          "SIGKILLs of the consumer") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("accounts", partitions).is_ok());
  std::vector<long long> sums(accounts, 0), counts(accounts, 0);
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 0; i < records; ++i) {
      sums[i % accounts] += i + 1;
      ++counts[i % accounts];
      REQUIRE(producer.produce("accounts", "a" + std::to_string(i % accounts),
                               std::to_string(i + 1), i % partitions)
                .is_ok());
    }
    REQUIRE(producer.flush().is_ok());
  }
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> progress{1, records / 8};
  int kills = 0, mid_way = 0, ahead = 0;
  std::int64_t before = 0;
  for (int round = 0; round < 12 && mid_way < 6; ++round) {
    test::child_process child{"kafka_actor_consumer",
                              {storage, cluster.bootstrap()}};
    REQUIRE(child.read_line() == "subscribed");
    // Kill on observed progress, never after a time: once the child settled
    // a random number of records of its own (calls of the next batches in
    // flight), however fast the machine.
    auto target = std::min<std::int64_t>(before + progress(rng), records);
    (void)test::wait_until(
        [&] {
          return test::stored_offsets(storage, source_of(cluster.bootstrap()),
                                      partitions)
                 >= target;
        },
        std::chrono::milliseconds{60s}, 1ms);
    child.kill();
    ++kills;
    auto now = test::stored_offsets(storage, source_of(cluster.bootstrap()),
                                partitions);
    auto calls = applied(storage);
    MESSAGE("kill " << kills << ": records taken " << before << " -> " << now
                    << ", calls applied " << calls);
    ahead += calls > now ? 1 : 0;
    if (now > before && now < records)
      ++mid_way;
    before = now;
  }
  CHECK(mid_way >= 2); // killed while consuming, not only before or after
  CHECK(ahead >= 1);   // at least one replay of applied calls
  engine eng{{.storage = storage}};
  eng.resume_all();
  auto src = source_of(cluster.bootstrap());
  auto sub = eng.subscribe(src, deliver_to(&crash_account::deposit));
  auto end = std::chrono::steady_clock::now() + 120s;
  while (taken_live(eng, src) < records
         && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(50ms);
  sub.stop();
  MESSAGE("kills: " << kills << ", records taken by the last consumer: "
                    << sub.stats().records);
  for (int p = 0; p < partitions; ++p)
    CHECK(eng.event_log()->offset(offset_key(src, p)).value()
          == records / partitions);
  // No gap and no duplicate: each balance is the exact sum of its records
  // and each account applied exactly its number of records.
  int wrong = 0;
  for (int a = 0; a < accounts; ++a) {
    auto acct = eng.get_actor<crash_account>("a" + std::to_string(a));
    auto v = acct.call(&crash_account::value);
    auto n = acct.call(&crash_account::count);
    if (v != sums[a] || n != counts[a]) {
      ++wrong;
      MESSAGE("account a" << a << ": balance " << v << " (expected "
                          << sums[a] << "), records " << n << " (expected "
                          << counts[a] << ")");
    }
  }
  CHECK(wrong == 0);
  CHECK(dead_letters(eng, src).value().empty());
}
