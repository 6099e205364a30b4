// SPDX-License-Identifier: Apache-2.0
// Listener workloads: durable timers (lateness), Kafka records into
// workflows (records/s end to end, exactly once, offsets in the same commit)
// and Kafka records into virtual actors (deliver_to: idempotency keys,
// offsets committed after the calls are durable).

#include "bench.hpp"

#include "perdure/listeners/events.hpp"
#include "perdure/listeners/kafka.hpp"
#include "perdure/listeners/kafka_actors.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <map>
#include <string_view>
#include <sys/resource.h>
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

// The event-sourced twin of bench_account: a call logs one event, not the
// state.
struct bench_deposited {
  std::int64_t amount = 0;
};
PERDURE_EVENT(bench_deposited, amount)
struct bench_es_account : event_sourced<bench_es_account, bench_deposited> {
  std::int64_t balance = 0;
  void apply(const bench_deposited& e) {
    balance += e.amount;
  }
  std::int64_t deposit(const kafka_record& r) {
    emit(bench_deposited{static_cast<std::int64_t>(r.value.size())});
    return balance;
  }
};
PERDURE_ACTOR(bench_es_account, (balance), (deposit))

// CPU seconds per thread (tid -> name, seconds) from /proc/self/task: which
// thread of a pipeline is busiest, i.e. which serial stage bounds it.
std::map<int, std::pair<std::string, double>> thread_cpu_s() {
  std::map<int, std::pair<std::string, double>> out;
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (auto& e : std::filesystem::directory_iterator{"/proc/self/task"}) {
    std::ifstream in{e.path() / "stat"};
    std::string line;
    if (!std::getline(in, line))
      continue;
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos)
      continue;
    std::istringstream rest{line.substr(close + 2)};
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i)
      if (i == 14 || i == 15)
        ticks += std::stod(field);
    out[std::stoi(e.path().filename().string())] = {
      line.substr(open + 1, close - open - 1), ticks / tick};
  }
  return out;
}

// The `top` busiest threads between two snapshots, as µs per record.
void add_busiest_threads(figures& f,
                         const std::map<int, std::pair<std::string, double>>& a,
                         const std::map<int, std::pair<std::string, double>>& b,
                         int records, int top) {
  std::vector<std::pair<double, std::string>> busy;
  for (auto& [tid, nv] : b) {
    auto it = a.find(tid);
    double before = it == a.end() ? 0 : it->second.second;
    busy.push_back({nv.second - before, nv.first});
  }
  std::sort(busy.rbegin(), busy.rend());
  for (int i = 0; i < top && i < static_cast<int>(busy.size()); ++i)
    f.add("thread" + std::to_string(i + 1) + "_" + busy[i].second
            + "_us_per_record",
          busy[i].first * 1e6 / records);
}

// Extra librdkafka consumer properties for the kafka workloads, from
// PERDURE_BENCH_KAFKA ("name=value,name=value"), to try fetch settings.
std::map<std::string, std::string> extra_kafka_properties() {
  std::map<std::string, std::string> out;
  const char* env = std::getenv("PERDURE_BENCH_KAFKA");
  std::string_view rest = env ? env : "";
  while (!rest.empty()) {
    auto item = rest.substr(0, rest.find(','));
    rest.remove_prefix(std::min(rest.size(), item.size() + 1));
    auto eq = item.find('=');
    if (eq != std::string_view::npos)
      out.emplace(item.substr(0, eq), item.substr(eq + 1));
  }
  return out;
}

// PERDURE_BENCH_MAX_BATCH: the subscriptions' max_batch (default 2000).
std::size_t bench_max_batch() {
  const char* env = std::getenv("PERDURE_BENCH_MAX_BATCH");
  return env ? static_cast<std::size_t>(std::atol(env)) : 2000;
}

template <class Account, bool Feed = true>
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
  if constexpr (!Feed)
    ok_or_throw(configure_actors(eng, {.event_feed = false}));
  // The accounts exist before the clock starts (creation is one durable
  // commit per actor, measured apart).
  auto c0 = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t)
      ts.emplace_back([&, t] {
        for (int k = t; k < keys; k += 8)
          eng.actor<Account>("acct-" + std::to_string(k));
      });
    for (auto& t : ts)
      t.join();
  }
  double create_s = seconds_since(c0);
  // The ceiling without actors: the same records through a no-op delivery
  // (consume, convert, offsets commit) under a group of its own.
  auto r0 = std::chrono::steady_clock::now();
  auto rc0 = process_cpu_s();
  {
    record_delivery noop{
      [](engine&, const kafka_record&, const std::string&) {
        return record_delivery::waiter{[] { return status{}; }};
      }};
    auto raw = eng.subscribe(kafka_source{.brokers = cluster.bootstrap(),
                                          .topic = "bench", .group = "raw",
                                          .properties = extra_kafka_properties(),
                                          .max_batch = bench_max_batch()},
                             std::move(noop));
    while (raw.stats().records < count)
      std::this_thread::sleep_for(1ms);
  }
  double raw_s = seconds_since(r0);
  double raw_cpu = process_cpu_s() - rc0;
  auto t0 = std::chrono::steady_clock::now();
  auto tc0 = process_cpu_s();
  auto threads0 = thread_cpu_s();
  auto sub = eng.subscribe(
    kafka_source{.brokers = cluster.bootstrap(), .topic = "bench",
                 .properties = extra_kafka_properties(),
                 .max_batch = bench_max_batch()},
    deliver_to(&Account::deposit));
  while (sub.stats().records < count)
    std::this_thread::sleep_for(1ms);
  double taken_s = seconds_since(t0);
  double taken_cpu = process_cpu_s() - tc0;
  auto threads1 = thread_cpu_s();
  sub.stop();
  // Same run, bigger batches (group "big": new idempotency keys, same
  // actors, already loaded as in the run above).
  auto b0 = std::chrono::steady_clock::now();
  auto bc0 = process_cpu_s();
  {
    auto big = eng.subscribe(
      kafka_source{.brokers = cluster.bootstrap(), .topic = "bench",
                   .group = "big", .properties = extra_kafka_properties(),
                   .max_batch = 16000},
      deliver_to(&Account::deposit));
    while (big.stats().records < count)
      std::this_thread::sleep_for(1ms);
  }
  double big_s = seconds_since(b0);
  double big_cpu = process_cpu_s() - bc0;
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
  f.add("cpu_us_per_record", taken_cpu * 1e6 / count);
  f.add("consume_only_cpu_us_per_record", raw_cpu * 1e6 / count);
  f.add("max_batch", static_cast<double>(bench_max_batch()));
  f.add("records_per_s_max_batch_16000", count / big_s);
  f.add("cpu_us_per_record_max_batch_16000", big_cpu * 1e6 / count);
  f.add("ratio_16000_to_max_batch", taken_s / big_s);
  add_busiest_threads(f, threads0, threads1, count, 5);
  return f;
}

const auto bench_take_record =
  step("bench_kafka_wait_take",
       [](kafka_record r) { return static_cast<std::int64_t>(r.offset); });

// wait_for_event<kafka_listener>: each record goes to one waiting workflow,
// one record per partition in flight (the next waits until the previous is
// durable), so the rate is partitions / commit latency.
figures kafka_wait(const bench_options& o) {
  constexpr int count = 4000;
  constexpr int partitions = 4;
  kafka_mock_cluster cluster;
  ok_or_throw(cluster.create_topic("bench", partitions));
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 0; i < count; ++i)
      ok_or_throw(producer.produce("bench", std::to_string(i),
                                   "record-" + std::to_string(i),
                                   i % partitions));
    ok_or_throw(producer.flush());
  }
  engine eng{{.storage = o.dir, .durability = o.mode}};
  kafka_source src{.brokers = cluster.bootstrap(), .topic = "bench"};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<handle<std::int64_t>> hs;
  hs.reserve(count);
  for (int i = 0; i < count; ++i)
    hs.push_back(eng.run_async(
      bench_take_record(wait_for_event<kafka_listener>(src)),
      "w" + std::to_string(i)));
  for (auto& h : hs)
    (void)h.get();
  double s = seconds_since(t0);
  figures f;
  f.add("records", count);
  f.add("partitions", partitions);
  f.add("records_per_s", count / s);
  f.add("records_per_s_per_partition", count / s / partitions);
  return f;
}

} // namespace

PERDURE_WORKLOAD("kafka-wait",
                 "Kafka (mock cluster) records into 4,000 workflows waiting "
                 "with wait_for_event<kafka_listener>",
                 kafka_wait);
PERDURE_WORKLOAD("timers", "10,000 durable timers: lateness p50/p99", timers);
PERDURE_WORKLOAD("kafka-workflow",
                 "Kafka (mock cluster) records, one workflow each, offsets "
                 "committed with the submissions",
                 kafka_workflow);
PERDURE_WORKLOAD("kafka-actor",
                 "Kafka (mock cluster) records into 1,000 virtual actors "
                 "(deliver_to), exactly once",
                 kafka_actor<bench_account>);
PERDURE_WORKLOAD("kafka-actor-es",
                 "kafka-actor with event-sourced actors (one event logged "
                 "per record instead of the state)",
                 kafka_actor<bench_es_account>);
PERDURE_WORKLOAD("kafka-actor-es-nofeed",
                 "kafka-actor-es with actor_options::event_feed off (no "
                 "feed record per event: no projections)",
                 (kafka_actor<bench_es_account, false>));

} // namespace perdure::bench
