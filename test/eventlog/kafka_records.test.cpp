// SPDX-License-Identifier: Apache-2.0
// The Kafka subscription layout shared by the listeners and the tools:
// what one writes, the other parses back.

#include "perdure/eventlog/records/kafka.hpp"

#include <doctest/doctest.h>

namespace kr = perdure::kafka_records;

TEST_CASE("a Kafka offset key parses back to its group, topic and "
          "partition") {
  auto key = kr::offset_key("billing/eu", "orders", 10);
  CHECK(key == "kafka/billing/eu/orders/10");
  auto k = kr::parse_offset_key(key);
  REQUIRE(k);
  CHECK(k->subscription.group == "billing/eu");
  CHECK(k->subscription.topic == "orders");
  CHECK(k->partition == 10);
}

TEST_CASE("keys that are not a subscription's offset do not parse") {
  for (auto key : {"projection/p", "kafka/", "kafka/orders", "kafka/g/t/",
                   "kafka/g/t/x", "kafka/g/t/-1", "kafka/g/t/+1",
                   "kafka/g/t/1x", "kafka/g/t/99999999999", "kafka//t/1",
                   "kafka/g//1"})
    CHECK_MESSAGE(!kr::parse_offset_key(key), key);
}

TEST_CASE("a dead-letter stream parses back to its subscription") {
  auto id = kr::dead_letter_stream("billing/eu", "orders");
  CHECK(id == "dead_letter/billing/eu/orders");
  auto gt = kr::parse_dead_letter_stream(id);
  REQUIRE(gt);
  CHECK(gt->group == "billing/eu");
  CHECK(gt->topic == "orders");
  CHECK_FALSE(kr::parse_dead_letter_stream("dead_letter/orders"));
  CHECK_FALSE(kr::parse_dead_letter_stream("kafka/g/orders"));
}

TEST_CASE("a record's workflow id names its offset and, after the first, "
          "its attempt") {
  CHECK(kr::delivery_id("g", "orders", 2, 41, 1) == "kafka/g/orders/2/41");
  CHECK(kr::delivery_id("g", "orders", 2, 41, 3)
        == "kafka/g/orders/2/41#3");
}
