// SPDX-License-Identifier: Apache-2.0
// A clean stop hands its partitions over at once: the hosts watching its
// door hear that it leaves and claim its partitions as when a process
// dies, long before the consumer group's rebalance (S - 1 s after the
// leave on the mock) would let another member claim them. Two in-process
// engine_hosts on the 3-broker mock.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/cluster/engine_host.hpp"

#include "node_test_util.hpp"
#include "temp_dir.hpp"

#include <atomic>
#include <string>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

std::atomic<int> lv_runs{0};

const auto lv_double = step("lv_double", [](int x) {
  ++lv_runs;
  return 2 * x;
});

workflow<int> lv_twice(int x) {
  return lv_double(x);
}

engine_host_options lv_options(const kafka_mock_process& mock,
                               const std::filesystem::path& dir,
                               const std::string& id) {
  // 60 s: the group cannot move anything within this test's waits.
  engine_host_options o;
  o.node = node_options_for(mock, "leave", dir / id, id);
  o.node.group_properties = {{"session.timeout.ms", "60000"},
                             {"heartbeat.interval.ms", "1000"}};
  o.engine.actor_threads = 1;
  o.engine.stop_timeout = std::chrono::milliseconds{200};
  o.serve_address = "127.0.0.1:0";
  return o;
}

std::string lv_id_in(const partition_map& map, partition_id p) {
  for (int i = 0;; ++i) {
    auto id = "leave-" + std::to_string(i);
    if (map.partition_of(id) == p)
      return id;
  }
}

} // namespace

TEST_CASE("a clean stop hands its partitions to the hosts watching its "
          "door, before the group moves them") {
  lv_runs = 0;
  auto mock = start_mock("leave", 2);
  temp_dir dir;
  auto a = engine_host::start(lv_options(*mock, dir.path(), "a"));
  REQUIRE_MESSAGE(a, a.error().to_string());
  auto bo = lv_options(*mock, dir.path(), "b");
  bo.handover_wait = {}; // stopped at the end, not handed over
  auto b = engine_host::start(std::move(bo));
  REQUIRE_MESSAGE(b, b.error().to_string());
  engine_host& leaving = **a;
  engine_host& staying = **b;
  // Both in the group's first generation (the mock holds a first join 3
  // s; a later one would wait for the session timeout): one partition
  // each, and b watches a's door.
  REQUIRE(wait_until([&] {
    return leaving.running().size() == 1 && staying.running().size() == 1
           && leaving.counters().door_watches >= 1
           && leaving.counters().door_watchers >= 1;
  }, 90s));
  auto p = leaving.running().front();
  auto id = lv_id_in(leaving.routing(), p);
  auto before = staying.try_run(lv_twice(20), id); // served by a's door
  REQUIRE_MESSAGE(before, before.error().to_string());
  CHECK(*before == 40);
  CHECK(staying.counters().forwarded >= 1);

  leaving.stop();
  // Claimed through the watch (the group would wait for the 60 s session,
  // and a's stop waited for that claim before it returned).
  CHECK(staying.counters().taken_over >= 1);
  CHECK(wait_until([&] { return staying.running().size() == 2; }, 50s));
  CHECK(staying.engine_of(p) != nullptr);
  auto after = staying.try_run(lv_twice(21), id + "-after");
  REQUIRE_MESSAGE(after, after.error().to_string());
  CHECK(*after == 42);
  // The first run's output is the new owner's now, not run again.
  auto again = staying.try_run(lv_twice(20), id);
  REQUIRE_MESSAGE(again, again.error().to_string());
  CHECK(*again == 40);
  CHECK(lv_runs == 2);
  staying.stop();
}
