// SPDX-License-Identifier: Apache-2.0
// Kafka records into virtual actors (`deliver_to`) on librdkafka's mock
// cluster: each record applied once to the actor of its key, in partition
// order; poison records (a throwing decoder, a method that keeps throwing)
// go to the dead-letter stream; a second subscription applies nothing twice.

#include "perdure/listeners/kafka_actors.hpp"

#include "listener_test_support.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

std::atomic<int> method_runs{0};

struct deliver_account {
  long long balance = 0;
  long long applied = 0;
  long long last = 0;     // the last amount: amounts of one key only grow
  bool in_order = true;
  long long apply(const kafka_record& r) {
    ++method_runs;
    if (r.value == "boom")
      throw std::runtime_error{"cannot apply 'boom'"};
    auto v = std::stoll(r.value);
    in_order = in_order && v > last;
    last = v;
    balance += v;
    ++applied;
    return balance;
  }
  long long add(long long v) {
    balance += v;
    ++applied;
    return balance;
  }
  long long value() const {
    return balance;
  }
  long long count() const {
    return applied;
  }
  bool ordered() const {
    return in_order;
  }
};
PERDURE_ACTOR(deliver_account, (balance, applied, last, in_order),
              (apply, add, value, count, ordered))

long long parse(const kafka_record& r) {
  return static_cast<long long>(test::record_number(r));
}

using test::wait_until;

} // namespace

TEST_CASE("deliver_to applies each record once to the actor of its key, in "
          "partition order") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("deposits", 3).is_ok());
  constexpr int count = 600;
  std::map<std::string, long long> expected;
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 0; i < count; ++i) {
      auto key = "k" + std::to_string(i % 10);
      expected[key] += i + 1;
      REQUIRE(producer.produce("deposits", key, std::to_string(i + 1)).is_ok());
    }
    REQUIRE(producer.flush().is_ok());
  }
  test::temp_dir dir;
  kafka_source src{.brokers = cluster.bootstrap(), .topic = "deposits",
                   .group = "g", .max_batch = 100};
  engine eng{{.storage = (dir / "storage").string()}};
  auto sub = eng.subscribe(
    src, deliver_to(&deliver_account::apply, {.id_prefix = "acct/"}));
  REQUIRE(wait_until([&] { return sub.stats().records == count; }));
  CHECK(sub.stats().started == count);
  CHECK(sub.stats().dead_letters == 0);
  for (auto& [key, sum] : expected) {
    auto a = eng.get_actor<deliver_account>("acct/" + key);
    CHECK(a.call(&deliver_account::value) == sum);
    CHECK(a.call(&deliver_account::count) == count / 10);
    CHECK(a.call(&deliver_account::ordered));
  }
  long long stored = 0;
  for (int p = 0; p < 3; ++p)
    stored += eng.event_log()->offset(offset_key(src, p)).value().value_or(0);
  CHECK(stored == count);
  sub.stop();

  // The same records again under the same group, from offset 0: every call
  // repeats a known key and returns its logged result without running.
  for (int p = 0; p < 3; ++p) {
    eventlog::write_batch b;
    b.put_offset(offset_key(src, p), 0);
    REQUIRE(eng.event_log()->commit(std::move(b)).has_value());
  }
  int runs_before = method_runs.load();
  auto again = eng.subscribe(
    src, deliver_to(&deliver_account::apply, {.id_prefix = "acct/"}));
  REQUIRE(wait_until([&] { return again.stats().records == count; }));
  CHECK(method_runs.load() == runs_before);
  for (auto& [key, sum] : expected)
    CHECK(eng.get_actor<deliver_account>("acct/" + key)
            .call(&deliver_account::value)
          == sum);
}

TEST_CASE("a record that cannot be decoded or whose method keeps throwing "
          "goes to the dead-letter stream and consumption goes on") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("payments", 1).is_ok());
  {
    kafka_producer producer{cluster.bootstrap()};
    for (const char* v : {"10", "oops", "20", "boom", "30"})
      REQUIRE(producer.produce("payments", "alice", v).is_ok());
    REQUIRE(producer.flush().is_ok());
  }
  test::temp_dir dir;
  engine eng{{.storage = (dir / "storage").string()}};
  SUBCASE("a throwing decoder") {
    kafka_source src{.brokers = cluster.bootstrap(), .topic = "payments",
                     .group = "decode"};
    auto sub = eng.subscribe(src, deliver_to(&deliver_account::add, parse));
    REQUIRE(wait_until([&] { return sub.stats().records == 5; }));
    auto dl = dead_letters(eng, src).value();
    REQUIRE(dl.size() == 2);
    CHECK(dl[0].value == "oops");
    CHECK(dl[0].offset == 1);
    CHECK(dl[0].reason.find("undecodable") != std::string::npos);
    CHECK(dl[1].value == "boom");
    CHECK(eng.get_actor<deliver_account>("alice").call(&deliver_account::value)
          == 60);
  }
  SUBCASE("a method that throws on every attempt") {
    kafka_source src{.brokers = cluster.bootstrap(), .topic = "payments",
                     .group = "method"};
    int runs_before = method_runs.load();
    auto sub = eng.subscribe(
      src, deliver_to(&deliver_account::apply, {.attempts = 2}));
    REQUIRE(wait_until([&] { return sub.stats().records == 5; }));
    auto dl = dead_letters(eng, src).value();
    REQUIRE(dl.size() == 2);
    CHECK(dl[0].value == "oops"); // std::stoll throws inside the method
    CHECK(dl[1].value == "boom");
    CHECK(dl[1].offset == 3);
    CHECK(dl[1].reason.find("cannot apply 'boom'") != std::string::npos);
    // 3 good records once, 2 poison records twice each.
    CHECK(method_runs.load() - runs_before == 3 + 2 * 2);
    CHECK(sub.stats().started == 3);
    CHECK(eng.get_actor<deliver_account>("alice").call(&deliver_account::value)
          == 60);
  }
}

TEST_CASE("a record without a key goes to the dead-letter stream: deliver_to "
          "routes by key") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("keyless", 1).is_ok());
  {
    kafka_producer producer{cluster.bootstrap()};
    REQUIRE(producer.produce("keyless", "bob", "10").is_ok());
    REQUIRE(producer.produce("keyless", "", "20").is_ok());
    REQUIRE(producer.produce("keyless", "bob", "30").is_ok());
    REQUIRE(producer.flush().is_ok());
  }
  test::temp_dir dir;
  engine eng{{.storage = (dir / "storage").string()}};
  kafka_source src{.brokers = cluster.bootstrap(), .topic = "keyless",
                   .group = "keyless"};
  auto sub = eng.subscribe(src, deliver_to(&deliver_account::add, parse));
  REQUIRE(wait_until([&] { return sub.stats().records == 3; }));
  auto dl = dead_letters(eng, src).value();
  REQUIRE(dl.size() == 1);
  CHECK(dl[0].value == "20");
  CHECK(dl[0].offset == 1);
  CHECK(dl[0].reason.find("no key") != std::string::npos);
  CHECK(eng.get_actor<deliver_account>("bob").call(&deliver_account::value)
        == 40);
}

TEST_CASE("a batch ends early at a hot key so a replay stays within the "
          "actor's key window") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("hot", 1).is_ok());
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 0; i < 1000; ++i)
      REQUIRE(producer.produce("hot", "only", std::to_string(i + 1)).is_ok());
    REQUIRE(producer.flush().is_ok());
  }
  test::temp_dir dir;
  engine eng{{.storage = (dir / "storage").string()}};
  auto sub = eng.subscribe(
    kafka_source{.brokers = cluster.bootstrap(), .topic = "hot"},
    deliver_to(&deliver_account::apply, {.attempts = 4}));
  REQUIRE(wait_until([&] { return sub.stats().records == 1000; }));
  // 1024 / (2 × 4) = 128 records of one key per batch at most.
  CHECK(sub.stats().commits >= 1000 / 128);
  CHECK(eng.get_actor<deliver_account>("only").call(&deliver_account::value)
        == 1000 * 1001 / 2);
}

TEST_CASE("deliver_to rejects fewer than one attempt") {
  test::temp_dir dir;
  engine eng{{.storage = (dir / "storage").string()}};
  CHECK_THROWS_AS(eng.subscribe(kafka_source{.brokers = "127.0.0.1:1",
                                             .topic = "t"},
                                deliver_to(&deliver_account::apply,
                                           {.attempts = 0})),
                  perdure::error);
}
