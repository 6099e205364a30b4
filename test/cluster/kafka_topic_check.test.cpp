// SPDX-License-Identifier: Apache-2.0
// The log topic's settings against what durability needs (pure checks).

#include <doctest/doctest.h>

#include "perdure/cluster/kafka_topic_check.hpp"

using namespace perdure;
using namespace perdure::cluster;

namespace {

kafka_topic_description good() {
  return {.topic = "perdure.a.log",
          .partitions = 8,
          .replication_factor = 3,
          .fewest_in_sync = 3,
          .configs = std::map<std::string, std::string>{
              {"min.insync.replicas", "2"},
              {"unclean.leader.election.enable", "false"},
              {"retention.ms", "-1"},
              {"retention.bytes", "-1"},
              {"cleanup.policy", "delete"},
              {"max.message.bytes", "1048588"}},
          .configs_error = ""};
}

bool has(const std::vector<std::string>& problems, const std::string& s) {
  for (auto& p : problems)
    if (p.find(s) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE("a topic with the durable settings passes") {
  kafka_durability_needs needs{.partitions = 8};
  CHECK(kafka_topic_problems(good(), needs).empty());
  CHECK(check_kafka_topic(good(), needs).is_ok());
}

TEST_CASE("each wrong setting is named with the value found and needed") {
  kafka_durability_needs needs{.partitions = 8};
  auto t = good();
  SUBCASE("partition count") {
    t.partitions = 4;
    auto p = kafka_topic_problems(t, needs);
    REQUIRE(p.size() == 1);
    CHECK(has(p, "partition count is 4; it must be 8"));
  }
  SUBCASE("replication factor") {
    t.replication_factor = 1;
    auto p = kafka_topic_problems(t, needs);
    CHECK(has(p, "replication factor is 1; it must be at least 3"));
    // min.insync.replicas 2 cannot be met by one replica either.
    CHECK(has(p, "min.insync.replicas 2 needs at least that many"));
  }
  SUBCASE("min.insync.replicas") {
    (*t.configs)["min.insync.replicas"] = "1";
    auto p = kafka_topic_problems(t, needs);
    REQUIRE(p.size() == 1);
    CHECK(has(p, "min.insync.replicas is 1; it must be at least 2"));
  }
  SUBCASE("min.insync.replicas that is not a number") {
    (*t.configs)["min.insync.replicas"] = "two";
    CHECK(has(kafka_topic_problems(t, needs), "min.insync.replicas is two"));
  }
  SUBCASE("unclean leader election") {
    (*t.configs)["unclean.leader.election.enable"] = "true";
    CHECK(has(kafka_topic_problems(t, needs),
              "unclean.leader.election.enable is true; it must be false"));
  }
  SUBCASE("retention") {
    (*t.configs)["retention.ms"] = "604800000";
    (*t.configs)["retention.bytes"] = "1073741824";
    auto p = kafka_topic_problems(t, needs);
    CHECK(p.size() == 2);
    CHECK(has(p, "retention.ms is 604800000; it must be -1"));
    CHECK(has(p, "retention.bytes is 1073741824; it must be -1"));
  }
  SUBCASE("compaction") {
    (*t.configs)["cleanup.policy"] = "compact,delete";
    CHECK(has(kafka_topic_problems(t, needs),
              "cleanup.policy is compact,delete; it must be delete"));
  }
  SUBCASE("a setting the brokers do not report") {
    t.configs->erase("unclean.leader.election.enable");
    CHECK(has(kafka_topic_problems(t, needs),
              "unclean.leader.election.enable is not reported"));
  }
  SUBCASE("a stricter minimum") {
    needs.min_replication_factor = 5;
    CHECK(has(kafka_topic_problems(t, needs),
              "replication factor is 3; it must be at least 5"));
  }
  auto st = check_kafka_topic(t, needs);
  CHECK(st == errc::invalid_argument);
  CHECK(st.message().find("log topic 'perdure.a.log'") != std::string::npos);
}

TEST_CASE("limited retention passes with the explicit opt-out only") {
  auto t = good();
  (*t.configs)["retention.ms"] = "604800000";
  kafka_durability_needs needs{.partitions = 8};
  CHECK(check_kafka_topic(t, needs) == errc::invalid_argument);
  needs.allow_limited_retention = true;
  CHECK(kafka_topic_problems(t, needs).empty());
}

TEST_CASE("configs the brokers cannot describe") {
  auto t = good();
  t.configs.reset();
  t.configs_error = "DescribeConfigs (KIP-133) not supported by broker";
  kafka_durability_needs needs{.partitions = 8};
  auto p = kafka_topic_problems(t, needs);
  REQUIRE(p.size() == 1);
  CHECK(has(p, "could not be read (DescribeConfigs (KIP-133) not supported"));
  // Opted out (the mock cluster): partitions and replication still count.
  needs.require_configs = false;
  CHECK(kafka_topic_problems(t, needs).empty());
  t.replication_factor = 2;
  CHECK(has(kafka_topic_problems(t, needs), "replication factor is 2"));
}

TEST_CASE("every problem is in the one status") {
  auto t = good();
  t.partitions = 2;
  (*t.configs)["cleanup.policy"] = "compact";
  auto st = check_kafka_topic(t, {.partitions = 8});
  CHECK(st == errc::invalid_argument);
  CHECK(st.message().find("partition count is 2") != std::string::npos);
  CHECK(st.message().find("cleanup.policy is compact") != std::string::npos);
}
