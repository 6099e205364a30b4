// SPDX-License-Identifier: Apache-2.0
// Kafka consumer lag on /metrics: records fetched from a partition but not
// yet consumed into the log (their offsets not stored) count as lag, and
// the lag drops to zero once they are. librdkafka's mock cluster.

#include <doctest/doctest.h>
#include <perdure/listeners/kafka_actors.hpp>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

std::atomic<bool> gate_open{false};

} // namespace

struct gated_account {
  long long balance = 0;
  long long apply(const kafka_record& r) {
    // Holds the first delivery (and so the offsets) until the test opens.
    for (int i = 0; i < 3000 && !gate_open.load(); ++i)
      std::this_thread::sleep_for(10ms);
    balance += std::stoll(r.value);
    return balance;
  }
  long long value() const {
    return balance;
  }
};
PERDURE_ACTOR(gated_account, (balance), (apply, value))

namespace {

// The value of `series` in the engine's exposition; -1 when absent.
double series_value(engine& eng, const std::string& series) {
  auto text = eng.metrics().expose();
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

bool wait_for_value(engine& eng, const std::string& series, double want) {
  for (int i = 0; i < 1500; ++i) {
    if (series_value(eng, series) == want)
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

} // namespace

TEST_CASE("Kafka consumer lag is the high watermark minus the stored "
          "offset, per partition") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("lagging", 1).is_ok());
  {
    kafka_producer producer{cluster.bootstrap()};
    for (int i = 1; i <= 10; ++i)
      REQUIRE(producer.produce("lagging", "alice", std::to_string(i), 0)
                .is_ok());
    REQUIRE(producer.flush().is_ok());
  }
  test::temp_dir dir;
  engine eng{{.storage = dir / "storage",
              .durability = eventlog::durability::process}};
  const std::string lag =
    "perdure_kafka_consumer_lag{group=\"lag-g\",topic=\"lagging\","
    "partition=\"0\"}";
  {
    kafka_source src{.brokers = cluster.bootstrap(), .topic = "lagging",
                     .group = "lag-g"};
    auto sub = eng.subscribe(src, deliver_to(&gated_account::apply));
    // Fetched, not consumed: all ten are lag.
    CHECK_MESSAGE(wait_for_value(eng, lag, 10),
                  "lag seen: " << series_value(eng, lag));
    gate_open = true;
    CHECK_MESSAGE(wait_for_value(eng, lag, 0),
                  "lag seen: " << series_value(eng, lag));
    CHECK(eng.get_actor<gated_account>("alice").call(&gated_account::value)
          == 55);
    CHECK(eng.event_log()->offset(offset_key(src, 0)).value() == 10);
    sub.stop();
  }
  // A stopped subscription reports nothing.
  CHECK(eng.metrics().expose().find("perdure_kafka_consumer_lag{")
        == std::string::npos);
}
