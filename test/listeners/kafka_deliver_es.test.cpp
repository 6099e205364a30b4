// SPDX-License-Identifier: Apache-2.0
// deliver_to into event-sourced actors: each record applied once as the
// events its method emits, and a replay of the same records runs nothing.

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/actor.hpp"
#include "perdure/listeners/kafka_actors.hpp"

#include "listener_test_support.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <map>

using namespace perdure;

namespace {

std::atomic<int> es_runs{0};

struct credited {
  long long amount = 0;
};
PERDURE_EVENT(credited, amount)

struct es_deliver_account : event_sourced<es_deliver_account, credited> {
  long long balance = 0;
  long long applied = 0;
  void apply(const credited& e) {
    balance += e.amount;
    ++applied;
  }
  long long credit(const kafka_record& r) {
    ++es_runs;
    emit(credited{test::record_number(r)});
    return balance;
  }
  long long value() const {
    return balance;
  }
  long long count() const {
    return applied;
  }
};
PERDURE_ACTOR(es_deliver_account, (balance, applied), (credit, value, count))

// The events logged in actor `id`'s stream.
std::size_t events_of(engine& eng, const std::string& id) {
  std::size_t n = 0;
  auto st = eng.event_log()->scan(
    "actor/" + id, 1, [&](const eventlog::record_view& r) {
      if (r.kind == eventlog::to_u16(eventlog::record_kind::actor_events)) {
        auto c = codec::decode<actor_records::events_called>(r.payload);
        REQUIRE(c);
        n += c->events.size();
      }
      return true;
    });
  REQUIRE(st);
  return n;
}

} // namespace

TEST_CASE("deliver_to applies each record once to an event-sourced actor") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("credits", 2).is_ok());
  constexpr int count = 300;
  std::map<std::string, long long> expected;
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 0; i < count; ++i) {
      auto key = "k" + std::to_string(i % 6);
      expected[key] += i + 1;
      REQUIRE(producer.produce("credits", key, std::to_string(i + 1)).is_ok());
    }
    REQUIRE(producer.flush().is_ok());
  }
  test::temp_dir dir;
  kafka_source src{.brokers = cluster.bootstrap(), .topic = "credits",
                   .group = "g", .max_batch = 50};
  engine eng{{.storage = (dir / "storage").string()}};
  auto sub = eng.subscribe(
    src, deliver_to(&es_deliver_account::credit, {.id_prefix = "es/"}));
  REQUIRE(test::wait_until([&] { return sub.stats().records == count; }));
  CHECK(sub.stats().dead_letters == 0);
  for (auto& [key, sum] : expected) {
    auto a = eng.get_actor<es_deliver_account>("es/" + key);
    CHECK(a.call(&es_deliver_account::value) == sum);
    CHECK(a.call(&es_deliver_account::count) == count / 6);
    CHECK(events_of(eng, "es/" + key) == count / 6);
  }
  sub.stop();

  // The same records again from offset 0: known keys, nothing runs.
  for (int p = 0; p < 2; ++p) {
    eventlog::write_batch b;
    b.put_offset(offset_key(src, p), 0);
    REQUIRE(eng.event_log()->commit(std::move(b)).has_value());
  }
  int runs = es_runs.load();
  auto again = eng.subscribe(
    src, deliver_to(&es_deliver_account::credit, {.id_prefix = "es/"}));
  REQUIRE(test::wait_until([&] { return again.stats().records == count; }));
  CHECK(es_runs.load() == runs);
  for (auto& [key, sum] : expected)
    CHECK(eng.get_actor<es_deliver_account>("es/" + key)
            .call(&es_deliver_account::value)
          == sum);
  again.stop();
}
