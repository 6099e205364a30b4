// SPDX-License-Identifier: Apache-2.0
// cluster-feed: Kafka records into 1,000 virtual actors through a cluster
// feed (perdure/cluster/kafka_feed.hpp) on one engine_host (4 partitions,
// the 3-broker in-process mock), against the same records through one
// engine's deliver_to in the same run (its subscription: offsets in the
// engine's log). Both exactly once; the feed's records go through the
// host's request path and the partition's Kafka log, the engine's through
// its own journal.
//
// PERDURE_BENCH_FEED_CONCURRENCY: the feed's concurrency (default 16).

#include "bench.hpp"
#include "cluster_bench_host.hpp"

#include "perdure/cluster/kafka_actors.hpp"
#include "perdure/cluster/kafka_feed.hpp"
#include "perdure/listeners/kafka_actors.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace perdure::bench {

namespace {

using namespace std::chrono_literals;

struct feed_account {
  std::int64_t balance = 0;
  std::int64_t deposit(const kafka_record& r) {
    balance += static_cast<std::int64_t>(r.value.size());
    return balance;
  }
  std::int64_t get() const {
    return balance;
  }
};
PERDURE_ACTOR(feed_account, (balance), (deposit, get))

constexpr int count = 20'000;
constexpr int keys = 1000;

cluster::engine_host_options host_options(const kafka_mock_cluster& mock,
                                          const bench_options& o) {
  auto ho = in_process_host(mock.bootstrap(), o.dir / "node", "bench-feed");
  ho.actor_calls = cluster::served_actors<feed_account>();
  return ho;
}

figures cluster_feed(const bench_options& o) {
  kafka_mock_cluster mock{3};
  ok_or_throw(mock.create_topic(cluster::kafka_log_topic("bench-feed"), 4, 3));
  ok_or_throw(mock.create_topic("bench-in", 4));
  ok_or_throw(mock.create_topic("bench-in.dead-letter", 1));
  std::int64_t total = 0;
  {
    kafka_producer producer{mock.bootstrap()};
    for (int i = 0; i < count; ++i) {
      auto value = "record-" + std::to_string(i);
      total += static_cast<std::int64_t>(value.size());
      ok_or_throw(producer.produce(
        "bench-in", "acct-" + std::to_string(i % keys), value, i % 4));
    }
    ok_or_throw(producer.flush());
  }
  figures f;
  f.add("records", count);

  // The baseline: one engine's subscription (offsets in its log).
  {
    engine eng{{.storage = o.dir / "single", .durability = o.mode}};
    auto t0 = std::chrono::steady_clock::now();
    auto c0 = process_cpu_s();
    auto sub = eng.subscribe(kafka_source{.brokers = mock.bootstrap(),
                                          .topic = "bench-in",
                                          .group = "single"},
                             deliver_to(&feed_account::deposit));
    wait_for([&] { return sub.stats().records >= count; },
             "cluster-feed: deliver_to");
    f.add("engine_records_per_s", count / seconds_since(t0));
    f.add("engine_cpu_us_per_record",
          (process_cpu_s() - c0) * 1e6 / count);
  }

  auto host = cluster::engine_host::start(host_options(mock, o));
  ok_or_throw(host ? status{} : host.error());
  wait_for([&] { return (*host)->running().size() == 4; },
           "cluster-feed: the node led no 4 partitions");
  cluster::feed_options fo;
  fo.log = [](eventlog::log_level, std::string_view) {};
  if (const char* c = std::getenv("PERDURE_BENCH_FEED_CONCURRENCY"))
    fo.concurrency = static_cast<std::size_t>(std::atol(c));
  auto sub = cluster::subscribe(
    **host,
    kafka_source{.brokers = mock.bootstrap(),
                 .topic = "bench-in",
                 .group = "cluster",
                 .properties = {{"session.timeout.ms", "6000"},
                                {"heartbeat.interval.ms", "500"},
                                {"max.poll.interval.ms", "15000"}}},
    cluster::actor_target(&feed_account::deposit), fo);
  ok_or_throw(sub ? status{} : sub.error());
  // The clock starts once the group assigned the topic (the mock holds a
  // first join 3 s); the records wait in the topic meanwhile.
  wait_for([&] { return (*sub)->assigned().size() == 4; },
           "cluster-feed: the feed was not assigned the topic");
  auto t0 = std::chrono::steady_clock::now();
  auto c0 = process_cpu_s();
  wait_for([&] { return (*sub)->stats().records >= count; },
           "cluster-feed: the feed");
  double s = seconds_since(t0);
  double cpu = process_cpu_s() - c0;
  f.add("records_per_s", count / s);
  f.add("cpu_us_per_record", cpu * 1e6 / count);
  f.add("ratio_engine_to_feed",
        f.get("engine_records_per_s") / f.get("records_per_s"));
  f.add("concurrency", static_cast<double>(fo.concurrency));
  f.add("offset_commits", static_cast<double>((*sub)->stats().commits));
  // Every record applied once: the balances add up to the values' sizes.
  std::int64_t sum = 0;
  for (int k = 0; k < keys; ++k) {
    auto b = cluster::host_actor<feed_account>{**host,
                                               "acct-" + std::to_string(k)}
               .try_call(&feed_account::get);
    ok_or_throw(b ? status{} : b.error());
    sum += *b;
  }
  f.add("correct", sum == total && (*sub)->stats().started == count ? 1 : 0);
  (*sub)->stop();
  (*host)->stop();
  return f;
}

} // namespace

PERDURE_WORKLOAD("cluster-feed",
                 "Kafka (3-broker mock) records into 1,000 actors through a "
                 "cluster feed on one engine_host, against one engine's "
                 "deliver_to in the same run",
                 cluster_feed);

} // namespace perdure::bench
