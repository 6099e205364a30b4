// SPDX-License-Identifier: Apache-2.0
// signal_workflows: Kafka records become signals to running workflows,
// stored with the consumed offsets in one transaction; unknown, finished
// and undecodable ones go to the dead-letter stream; and across SIGKILLs
// of the consumer every record's signal is stored exactly once.

#include "perdure/eventlog/records/workflow.hpp"
#include "perdure/listeners/kafka.hpp"
#include "perdure/runtime/signal.hpp"

#include "child_process.hpp"
#include "listener_test_support.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

const auto ks_double = step("ks_double", [](int v) { return v * 2; });
const auto ks_sum = step("ks_sum", [](int a, int b, int c) {
  return a + b + c;
});

// "id:number" → (id, number); anything else throws (poison).
std::pair<std::string, int> id_and_number(const kafka_record& r) {
  auto colon = r.value.find(':');
  if (colon == std::string::npos)
    throw std::invalid_argument{"no ':' in '" + r.value + "'"};
  kafka_record n = r;
  n.value = r.value.substr(colon + 1);
  return {r.value.substr(0, colon),
          static_cast<int>(test::record_number(n))};
}

std::size_t successful(engine& eng) {
  return eng.list({workflow_status::successful}).size();
}

} // namespace

TEST_CASE("signal_workflows signals running workflows from records, and "
          "unknown, finished and undecodable records are dead letters") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("approvals", 2).is_ok());
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  for (int i = 0; i < 5; ++i)
    eng.run_async(ks_double(wait_for_signal<int>("amount")),
                  "w-" + std::to_string(i));
  CHECK(eng.run(ks_double(21), "done") == 42);
  kafka_producer producer{cluster.bootstrap()};
  for (int i = 0; i < 5; ++i)
    REQUIRE(producer.produce("approvals", "", "w-" + std::to_string(i) + ":"
                                                + std::to_string(i * 10),
                             i % 2)
              .is_ok());
  for (auto v : {"nobody:1", "garbage", "done:3"})
    REQUIRE(producer.produce("approvals", "", v, 0).is_ok());
  REQUIRE(producer.flush().is_ok());
  kafka_source src{.brokers = cluster.bootstrap(), .topic = "approvals",
                   .group = "ap"};
  auto sub = eng.subscribe(src, signal_workflows("amount", id_and_number));
  bool all = test::wait_until([&] {
    auto d = dead_letters(eng, src);
    return successful(eng) == 6 && d && d->size() == 3;
  });
  INFO("successful " << successful(eng) << ", dead letters "
                     << dead_letters(eng, src).value().size()
                     << ", last error '" << sub.last_error() << "'");
  REQUIRE(all);
  for (int i = 0; i < 5; ++i)
    CHECK(eng.output<int>("w-" + std::to_string(i)) == i * 20);
  auto dl = dead_letters(eng, src).value();
  std::sort(dl.begin(), dl.end(),
            [](auto& a, auto& b) { return a.value < b.value; });
  CHECK(dl[0].value == "done:3");
  CHECK(dl[0].workflow == "done");
  CHECK(dl[0].reason.find("already finished") != std::string::npos);
  CHECK(dl[1].value == "garbage");
  CHECK(dl[1].reason.find("undecodable") != std::string::npos);
  CHECK(dl[2].value == "nobody:1");
  CHECK(dl[2].reason.find("no workflow 'nobody'") != std::string::npos);
  sub.stop();
  CHECK(sub.stats().records == 8);
  CHECK(sub.stats().started == 5);
  CHECK(eng.event_log()->offset(offset_key(src, 0)).value() == 6);
  CHECK(eng.event_log()->offset(offset_key(src, 1)).value() == 2);
  // The signal's sender names the record.
  auto sig = eng.event_log()->read(records::signal_stream("w-1")).value();
  REQUIRE(sig.size() == 1);
  auto rec = codec::decode<records::signal_sent>(sig[0].payload).value();
  CHECK(rec.sender == "kafka/ap/approvals/1/0");
}

namespace {

constexpr int crash_workflows = 200;
constexpr int crash_partitions = 4;
constexpr int signals_each = 3;

kafka_source crash_source(const std::string& brokers) {
  // Small batches: many commits, so kills land between and inside them.
  return {.brokers = brokers, .topic = "signals", .group = "sig",
          .max_batch = 40};
}

workflow<int> three_signals() {
  return ks_sum(wait_for_signal<int>("v"), wait_for_signal<int>("v"),
                wait_for_signal<int>("v"));
}

} // namespace

PERDURE_CHILD_ENTRY("kafka_signal_consumer") {
  engine eng{{.storage = args.at(0)}};
  auto sub = eng.subscribe(crash_source(args.at(1)),
                           signal_workflows("v", id_and_number));
  std::printf("subscribed\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(120s);
  return 0;
}

TEST_CASE("every record's signal is stored exactly once across SIGKILLs of "
          "the consumer") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("signals", crash_partitions).is_ok());
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  {
    engine eng{{.storage = storage}};
    for (int w = 0; w < crash_workflows; ++w)
      eng.run_async(three_signals(), "s-" + std::to_string(w));
    REQUIRE(test::wait_until([&] {
      return eng.list({workflow_status::running}).size() == crash_workflows;
    }));
  }
  constexpr int records = crash_workflows * signals_each;
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 0; i < records; ++i)
      REQUIRE(producer.produce("signals", "",
                               "s-" + std::to_string(i % crash_workflows)
                                 + ":" + std::to_string(i + 1),
                               i % crash_partitions)
                .is_ok());
    REQUIRE(producer.flush().is_ok());
  }
  auto src = crash_source(cluster.bootstrap());
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> progress{1, records / 6};
  std::int64_t before = 0;
  int mid_way = 0;
  for (int round = 0; round < 12 && mid_way < 4; ++round) {
    test::child_process child{"kafka_signal_consumer",
                              {storage, cluster.bootstrap()}};
    REQUIRE(child.read_line() == "subscribed");
    auto target = std::min<std::int64_t>(before + progress(rng), records);
    (void)test::wait_until(
      [&] {
        return test::stored_offsets(storage, src, crash_partitions)
               >= target;
      },
      60s, 1ms);
    child.kill();
    auto now = test::stored_offsets(storage, src, crash_partitions);
    if (now > before && now < records)
      ++mid_way;
    before = now;
  }
  CHECK(mid_way >= 2);
  engine eng{{.storage = storage}};
  auto sub = eng.subscribe(src, signal_workflows("v", id_and_number));
  REQUIRE(test::wait_until(
    [&] { return successful(eng) == crash_workflows; }, 120s, 20ms));
  sub.stop();
  CHECK(dead_letters(eng, src).value().empty());
  // Each workflow got its three signals, each stored once: three
  // signal_sent records from three different records, summing right.
  for (int w = 0; w < crash_workflows; ++w) {
    auto id = "s-" + std::to_string(w);
    INFO("workflow " << id);
    auto sig = eng.event_log()->read(records::signal_stream(id)).value();
    std::set<std::string> senders;
    int values = 0;
    for (auto& r : sig) {
      if (r.kind != eventlog::to_u16(eventlog::record_kind::signal_sent))
        continue;
      auto s = codec::decode<records::signal_sent>(r.payload).value();
      senders.insert(s.sender);
      values += codec::decode<int>(s.value.data).value();
    }
    CHECK(senders.size() == signals_each);
    int want = 0;
    for (int k = 0; k < signals_each; ++k)
      want += w + 1 + k * crash_workflows;
    CHECK(values == want);
    CHECK(eng.output<int>(id) == want);
  }
}
