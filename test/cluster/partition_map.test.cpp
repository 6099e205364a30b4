// SPDX-License-Identifier: Apache-2.0
// The partition map is part of a cluster's on-disk contract: these tests pin
// its values, so a change that would move ids between partitions fails.

#include "perdure/cluster/partition_map.hpp"

#include <doctest/doctest.h>

using namespace perdure;
using namespace perdure::cluster;

TEST_CASE("xxh64 matches the xxHash reference vectors") {
  CHECK(xxh64("") == 0xef46db3751d8e999ull);
  CHECK(xxh64("a") == 0xd24ec4f1a98c6e5bull);
  CHECK(xxh64("abc") == 0x44bc2cf5ad770999ull);
  CHECK(xxh64("Nobody inspects the spammish repetition") ==
        0xfbcea83c8a378bf1ull);
}

TEST_CASE("known ids map to pinned partitions") {
  auto map = partition_map::create();
  REQUIRE(map);
  CHECK(map->partitions() == 64);
  CHECK(xxh64("order-17") == 0x93623b80df3c7a2dull);
  CHECK(map->partition_of("order-17") == 45);
  CHECK(map->partition_of("workflow-1") == 28);
  CHECK(map->partition_of("actor/counter/42") == 3);
  CHECK(map->partition_of("") == 25);
  auto seven = partition_map::create(7);
  REQUIRE(seven);
  CHECK(seven->partition_of("order-17") == 1);
  CHECK(seven->partition_of("abc") == 0);
}

TEST_CASE("a separator routes an id by the part before its first one") {
  auto map = partition_map::create(64, '/');
  REQUIRE(map);
  CHECK(map->routing_key("order-17/payment") == "order-17");
  CHECK(map->routing_key("order-17/ship/2") == "order-17");
  CHECK(map->routing_key("order-17") == "order-17");
  CHECK(map->partition_of("order-17/payment") == 45);
  CHECK(map->partition_of("order-17/ship/2") == 45);
  CHECK(map->partition_of("actor/counter/42") == map->partition_of("actor"));
}

TEST_CASE("a separator in the first position routes by the whole id") {
  auto map = partition_map::create(64, '/');
  REQUIRE(map);
  CHECK(map->routing_key("/x") == "/x");
  CHECK(map->routing_key("") == "");
  CHECK(map->routing_key("plain") == "plain");
}

TEST_CASE("without a separator the whole id is the routing key") {
  auto map = partition_map::create(64);
  REQUIRE(map);
  CHECK_FALSE(map->separator());
  CHECK(map->routing_key("order-17/payment") == "order-17/payment");
  CHECK(map->partition_of("actor/counter/42") == 3);
}

TEST_CASE("a partition count of 0 is invalid_argument") {
  auto map = partition_map::create(0);
  REQUIRE_FALSE(map);
  CHECK(map.error() == errc::invalid_argument);
  CHECK(map.error().message().find("got 0") != std::string::npos);
  auto huge = partition_map::create(0x80000000u);
  REQUIRE_FALSE(huge);
  CHECK(huge.error() == errc::invalid_argument);
}

TEST_CASE("one partition takes every id and ids spread over many") {
  auto one = partition_map::create(1);
  REQUIRE(one);
  CHECK(one->partition_of("anything") == 0);
  auto map = partition_map::create(16);
  REQUIRE(map);
  int hits[16] = {};
  for (int i = 0; i < 1600; ++i)
    ++hits[map->partition_of("wf-" + std::to_string(i))];
  for (int h : hits)
    CHECK(h > 50); // 100 expected each; a broken hash piles them up
}
