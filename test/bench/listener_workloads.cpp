// Listener workloads: durable timers (lateness), Kafka records into
// workflows (records/s end to end, exactly once, offsets in the same commit)
// and Kafka records into virtual actors (deliver_to: idempotency keys,
// offsets committed after the calls are durable).

#include "bench.hpp"

#include "perdure/listeners/events.hpp"
#include "perdure/listeners/kafka.hpp"
#include "perdure/listeners/kafka_actors.hpp"

#include <thread>

namespace perdure::bench {

namespace {

using namespace std::chrono_literals;

figures timers(const bench_options& o) {
  constexpr int count = 10'000;
  engine eng{{.storage = o.dir, .durability = o.mode}};
  auto start = std::chrono::system_clock::now() + 1500ms;
  std::vector<handle<timer_event>> hs;
  hs.reserve(count);
  // Deadlines spread over 1 s, starting after every workflow is submitted.
  for (int i = 0; i < count; ++i)
    hs.push_back(eng.run_async(
      wait_for_event<timer_listener>(start + std::chrono::microseconds{i * 100}),
      "t" + std::to_string(i)));
  latencies late;
  for (auto& h : hs) {
    auto e = h.get();
    late.add(std::chrono::nanoseconds{e.fired - e.due});
  }
  figures f;
  f.add("timers", count);
  f.add("lateness_p50_us", late.quantile_us(0.5));
  f.add("lateness_p99_us", late.quantile_us(0.99));
  f.add("lateness_max_us", late.quantile_us(1.0));
  return f;
}

const auto apply_record = step("bench_kafka_apply", [](kafka_record r) {
  return static_cast<std::int64_t>(r.value.size());
});

figures kafka_workflow(const bench_options& o) {
  constexpr int count = 20'000;
  kafka_mock_cluster cluster;
  ok_or_throw(cluster.create_topic("bench", 4));
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 0; i < count; ++i)
      ok_or_throw(producer.produce("bench", std::to_string(i % 1000),
                                   "record-" + std::to_string(i), i % 4));
    ok_or_throw(producer.flush());
  }
  engine eng{{.storage = o.dir, .durability = o.mode}};
  auto t0 = std::chrono::steady_clock::now();
  auto sub = eng.subscribe(
    kafka_source{.brokers = cluster.bootstrap(), .topic = "bench"},
    start_workflow(apply_record));
  while (sub.stats().records < count)
    std::this_thread::sleep_for(1ms);
  double taken_s = seconds_since(t0);
  while (eng.live_count() > 0)
    std::this_thread::sleep_for(1ms);
  double done_s = seconds_since(t0);
  figures f;
  f.add("records", count);
  f.add("records_committed_per_s", count / taken_s);
  f.add("workflows_completed_per_s", count / done_s);
  f.add("commits", static_cast<double>(sub.stats().commits));
  f.add("records_per_commit",
        count / static_cast<double>(std::max<std::uint64_t>(
                  1, sub.stats().commits)));
  return f;
}

struct bench_account {
  std::int64_t balance = 0;
  std::int64_t deposit(const kafka_record& r) {
    balance += static_cast<std::int64_t>(r.value.size());
    return balance;
  }
};
PERDURE_ACTOR(bench_account, (balance), (deposit))

figures kafka_actor(const bench_options& o) {
  constexpr int count = 100'000;
  constexpr int keys = 1000;
  kafka_mock_cluster cluster;
  ok_or_throw(cluster.create_topic("bench", 4));
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 0; i < count; ++i)
      ok_or_throw(producer.produce("bench", "acct-" + std::to_string(i % keys),
                                   "record-" + std::to_string(i), i % 4));
    ok_or_throw(producer.flush());
  }
  engine eng{{.storage = o.dir, .durability = o.mode}};
  // The accounts exist before the clock starts (creation is one durable
  // commit per actor, measured apart).
  auto c0 = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t)
      ts.emplace_back([&, t] {
        for (int k = t; k < keys; k += 8)
          eng.actor<bench_account>("acct-" + std::to_string(k));
      });
    for (auto& t : ts)
      t.join();
  }
  double create_s = seconds_since(c0);
  // The ceiling without actors: the same records through a no-op delivery
  // (consume, convert, offsets commit) under a group of its own.
  auto r0 = std::chrono::steady_clock::now();
  {
    record_delivery noop{
      [](engine&, const kafka_record&, const std::string&) {
        return record_delivery::waiter{[] { return status{}; }};
      }};
    auto raw = eng.subscribe(kafka_source{.brokers = cluster.bootstrap(),
                                          .topic = "bench", .group = "raw"},
                             std::move(noop));
    while (raw.stats().records < count)
      std::this_thread::sleep_for(1ms);
  }
  double raw_s = seconds_since(r0);
  auto t0 = std::chrono::steady_clock::now();
  auto sub = eng.subscribe(
    kafka_source{.brokers = cluster.bootstrap(), .topic = "bench"},
    deliver_to(&bench_account::deposit));
  while (sub.stats().records < count)
    std::this_thread::sleep_for(1ms);
  double taken_s = seconds_since(t0);
  sub.stop();
  figures f;
  f.add("records", count);
  f.add("records_per_s", count / taken_s);
  f.add("calls_applied", static_cast<double>(sub.stats().started));
  f.add("offset_commits", static_cast<double>(sub.stats().commits));
  f.add("records_per_offset_commit",
        count / static_cast<double>(std::max<std::uint64_t>(
                  1, sub.stats().commits)));
  f.add("actors_created_per_s", keys / create_s);
  f.add("consume_only_records_per_s", count / raw_s);
  return f;
}

} // namespace

PERDURE_WORKLOAD("timers", "10,000 durable timers: lateness p50/p99", timers);
PERDURE_WORKLOAD("kafka-workflow",
                 "Kafka (mock cluster) records, one workflow each, offsets "
                 "committed with the submissions",
                 kafka_workflow);
PERDURE_WORKLOAD("kafka-actor",
                 "Kafka (mock cluster) records into 1,000 virtual actors "
                 "(deliver_to), exactly once",
                 kafka_actor);

} // namespace perdure::bench
