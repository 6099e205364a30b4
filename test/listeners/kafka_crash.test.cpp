// SPDX-License-Identifier: Apache-2.0
// Exactly-once from Kafka across SIGKILL: the broker (a mock cluster in this
// test process) keeps its records while consumer processes are killed at
// random points and restarted; every record must start exactly one
// workflow, none lost, none twice.

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/listeners/kafka.hpp"

#include "child_process.hpp"
#include "listener_test_support.hpp"
#include "temp_dir.hpp"

#include <algorithm>
#include <doctest/doctest.h>

#include <cstdio>
#include <random>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

constexpr int records = 10'000;
constexpr int partitions = 4;

const auto apply_amount = step("kafka_crash_apply", [](kafka_record r) {
  return std::stol(r.value);
});

kafka_source source_of(const std::string& brokers) {
  // Small batches: many commits, so kills land between and inside them.
  return {.brokers = brokers, .topic = "ledger", .group = "crash",
          .max_batch = 250};
}


} // namespace

PERDURE_CHILD_ENTRY("kafka_consumer") {
  engine eng{{.storage = args.at(0)}};
  eng.resume_all();
  auto sub = eng.subscribe(source_of(args.at(1)), start_workflow(apply_amount));
  std::printf("subscribed\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(120s);
  return 0;
}

TEST_CASE("every record starts exactly one workflow across SIGKILLs of the "
          "consumer") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("ledger", partitions).is_ok());
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 0; i < records; ++i)
      REQUIRE(producer.produce("ledger", std::to_string(i % 97),
                               std::to_string(i + 1), i % partitions)
                .is_ok());
    REQUIRE(producer.flush().is_ok());
  }
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> progress{1, records / 8};
  int kills = 0, mid_way = 0;
  std::int64_t before = 0;
  for (int round = 0; round < 16 && mid_way < 4; ++round) {
    test::child_process child{"kafka_consumer", {storage, cluster.bootstrap()}};
    REQUIRE(child.read_line() == "subscribed");
    // Kill on observed progress, never after a time: once the child stored a
    // random number of offsets of its own (the next batches in flight),
    // however fast the machine. Every fourth round kills it at once, before
    // its first batch.
    if (round % 4 != 3) {
      auto target = std::min<std::int64_t>(before + progress(rng), records);
      (void)test::wait_until(
          [&] {
            return test::stored_offsets(storage,
                                        source_of(cluster.bootstrap()),
                                        partitions)
                   >= target;
          },
          std::chrono::milliseconds{60s}, 1ms);
    }
    child.kill();
    ++kills;
    auto now = test::stored_offsets(storage, source_of(cluster.bootstrap()),
                                    partitions);
    MESSAGE("kill " << kills << ": records taken " << before << " -> " << now);
    if (now > before && now < records)
      ++mid_way;
    before = now;
  }
  CHECK(mid_way >= 2); // killed while consuming, not only before or after
  engine eng{{.storage = storage}};
  eng.resume_all();
  auto src = source_of(cluster.bootstrap());
  auto sub = eng.subscribe(src, start_workflow(apply_amount));
  auto end = std::chrono::steady_clock::now() + 120s;
  while (eng.list({workflow_status::successful}).size() < records
         && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(50ms);
  sub.stop();
  MESSAGE("kills: " << kills << ", records taken by the last consumer: "
                    << sub.stats().records);
  // No gap: every (partition, offset) has a successful workflow; no
  // duplicate: there is no other workflow, each was submitted once, and
  // the sum of the applied amounts is exact.
  auto all = eng.list();
  CHECK(all.size() == records);
  long long sum = 0;
  int missing = 0, submissions = 0;
  for (int p = 0; p < partitions; ++p) {
    CHECK(eng.event_log()->offset(offset_key(src, p)).value()
          == records / partitions);
    for (int o = 0; o < records / partitions; ++o) {
      auto id = "kafka/crash/ledger/" + std::to_string(p) + "/"
                + std::to_string(o);
      auto v = eng.try_output<long>(id);
      if (!v) {
        ++missing;
        continue;
      }
      CHECK(*v == o * partitions + p + 1);
      sum += *v;
      auto recs = eng.event_log()->read(id).value();
      for (auto& r : recs)
        if (r.kind
            == eventlog::to_u16(eventlog::record_kind::workflow_submitted))
          ++submissions;
    }
  }
  CHECK(missing == 0);
  CHECK(submissions == records);
  CHECK(sum == static_cast<long long>(records) * (records + 1) / 2);
  CHECK(dead_letters(eng, src).value().empty());
}
