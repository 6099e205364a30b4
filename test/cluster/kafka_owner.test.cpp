// SPDX-License-Identifier: Apache-2.0
// The claim and fencing rule (partition_owner) over the Kafka log on the
// 3-broker mock: two nodes, a leader move, a zombie's late group.

#include <doctest/doctest.h>

#include "perdure/cluster/partition_owner.hpp"

#include "kafka_log_test_util.hpp"

#include <optional>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

struct kafka_node {
  std::unique_ptr<kafka_log> log;
  memory_replica_store store;
  std::optional<partition_owner> owner;

  kafka_node(const kafka_mock_process& mock, const std::string& id) {
    auto opened = kafka_log::open(log_options(mock, "own"));
    REQUIRE(opened);
    log = std::move(*opened);
    owner.emplace(log->partition(0), store,
                  owner_options{.partition = 0, .self = {id, 1}});
    REQUIRE(owner->open());
  }
  bool poll() {
    auto r = owner->poll(20ms);
    return r.has_value();
  }
};

using outcome = std::optional<result<log_offset>>;

// Polls `n` until `done` holds (a minute at most).
template <class F> bool poll_until(kafka_node& n, F done) {
  return wait_until([&] { return n.poll() && done(); }, 60s, 0ms);
}

std::vector<std::string> groups(const memory_replica_store& s) {
  std::vector<std::string> out;
  for (auto& g : s.applied())
    out.push_back(g.group.bytes);
  return out;
}

} // namespace

TEST_CASE("claims and fencing hold over the Kafka log") {
  auto mock = start_mock("own", 1);
  REQUIRE(mock->command("leader perdure.own.log 0 1") == "ok");
  kafka_node a{*mock, "a"}, b{*mock, "b"};
  a.owner->claim();
  REQUIRE(poll_until(a, [&] { return a.owner->role()
                                     == owner_role::leader; }));
  auto epoch_a = a.owner->epoch();
  // Groups take effect once read back, across a leader move.
  std::vector<outcome> done(20);
  for (std::size_t i = 0; i < done.size(); ++i) {
    if (i == 10)
      REQUIRE(mock->command("leader perdure.own.log 0 2") == "ok");
    a.owner->submit("g" + std::to_string(i),
                    [&done, i](result<log_offset> r) { done[i] = r; });
    REQUIRE(poll_until(a, [&] { return done[i].has_value(); }));
    REQUIRE(*done[i]);
  }
  // b claims while a does not poll (a paused node); a still thinks it
  // leads and submits a group under its old epoch.
  b.owner->claim();
  REQUIRE(poll_until(b, [&] { return b.owner->role()
                                     == owner_role::leader; }));
  CHECK(b.owner->epoch() > epoch_a);
  CHECK(a.owner->role() == owner_role::leader);
  outcome zombie;
  a.owner->submit("zombie", [&](result<log_offset> r) { zombie = r; });
  REQUIRE(poll_until(a, [&] { return zombie.has_value(); }));
  CHECK(zombie->error() == errc::busy);
  CHECK(a.owner->role() == owner_role::follower);
  outcome from_b;
  b.owner->submit("from-b", [&](result<log_offset> r) { from_b = r; });
  REQUIRE(poll_until(b, [&] { return from_b.has_value(); }));
  REQUIRE(*from_b);
  // Both stores, read to the end, hold the same groups: never the
  // zombie's.
  REQUIRE(poll_until(a, [&] { return groups(a.store).size() == 21; }));
  REQUIRE(poll_until(b, [&] { return groups(b.store).size() == 21; }));
  CHECK(groups(a.store) == groups(b.store));
  CHECK(groups(a.store).back() == "from-b");
  for (auto& g : groups(b.store))
    CHECK(g != "zombie");
}
