// SPDX-License-Identifier: Apache-2.0
// `perdure cluster check` against perdure-mock-kafka (3 brokers): the
// built CLI describes the log topic and names each way it falls short;
// a bad property and a missing app are clear errors.
// The mock answers no DescribeConfigs, so the config checks
// (min.insync.replicas, unclean election, retention) are shown here only
// as "not read"; their judgement is kafka_topic_check.test.cpp's.

#include <doctest/doctest.h>

#include "cli_runner.hpp"
#include "kafka_log_test_util.hpp"
#include "perdure/cluster/log_entry.hpp"

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace perdure::test;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("perdure cluster check judges the log topic on the mock") {
  auto mock = start_mock("cchk", 4);
  auto base = std::vector<std::string>{"cluster", "check", mock->bootstrap(),
                                       "--app", "cchk", "--timeout-ms",
                                       "60000",
                                       // The mock never answers it.
                                       "--configs-timeout-ms", "500"};
  auto with = [&](std::vector<std::string> more) {
    auto args = base;
    args.insert(args.end(), more.begin(), more.end());
    return run_perdure(args);
  };
  // Partitions and replication fit; the configs cannot be read.
  auto unverified = with({"--partitions", "4", "--unverified-configs"});
  INFO(unverified.out, unverified.err);
  CHECK(unverified.code == 0);
  CHECK(has(unverified.out, "topic perdure.cchk.log on "));
  CHECK(has(unverified.out, "4 partitions, replication factor 3"));
  CHECK(has(unverified.out, "not verified (--unverified-configs)"));
  CHECK(has(unverified.out, "ok: the topic fits"));
  // By default unread configs are a problem: exit 5, named.
  auto strict = with({"--partitions", "4"});
  CHECK(strict.code == 5);
  CHECK(has(strict.out, "problem: "));
  CHECK(has(strict.out, "DescribeConfigs"));
  // Each shortfall on its own line, and in --json.
  auto wrong = with({"--partitions", "8", "--min-replication", "4",
                     "--unverified-configs", "--json"});
  CHECK(wrong.code == 5);
  auto j = nlohmann::json::parse(wrong.out);
  CHECK(j["topic"] == "perdure.cchk.log");
  CHECK(j["partitions"] == 4);
  CHECK(j["replication_factor"] == 3);
  CHECK(j["ok"] == false);
  REQUIRE(j["problems"].size() == 2);
  CHECK(has(j["problems"].dump(), "partition count is 4; it must be 8"));
  CHECK(has(j["problems"].dump(),
            "replication factor is 3; it must be at least 4"));
}

TEST_CASE("perdure cluster check: a topic the mock made up, a bad property "
          "and a missing app are clear errors") {
  auto mock = start_mock("cchk2", 2);
  // The mock creates any topic a metadata request names (its Metadata is
  // v0-v2, without AllowAutoTopicCreation; kafka_log asks real brokers
  // not to): a missing topic shows up with the mock's default count, and
  // the expected partition count catches it.
  auto none = run_perdure({"cluster", "check", mock->bootstrap(), "--app",
                           "nosuch", "--partitions", "2",
                           "--unverified-configs", "--timeout-ms", "60000",
                           "--configs-timeout-ms", "500"});
  CHECK(none.code == 5);
  CHECK(has(none.out, "problem: "));
  CHECK(has(none.out, "it must be 2"));
  auto prop = run_perdure({"cluster", "check", mock->bootstrap(), "--app",
                           "cchk2", "--property", "novalue"});
  CHECK(prop.code == 1);
  CHECK(has(prop.err, "--property 'novalue': expected KEY=VALUE"));
  auto noapp = run_perdure({"cluster", "check", mock->bootstrap()});
  CHECK(noapp.code == 1);
  CHECK(has(noapp.err, "--app is required"));
  auto idem = run_perdure({"cluster", "check", mock->bootstrap(), "--app",
                           "cchk2", "--property", "enable.idempotence=false"});
  CHECK(idem.code == 1);
  CHECK(has(idem.err, "idempotence"));
}

TEST_CASE("perdure cluster status reads each partition's last claim: "
          "epoch, owner, records since") {
  auto mock = start_mock("cst", 2);
  {
    auto log = cluster::kafka_log::open(log_options(*mock, "cst"));
    REQUIRE(log);
    auto& p0 = (*log)->partition(0);
    auto put = [&](const cluster::log_entry& e) {
      auto r = append_wait(p0, cluster::encode(e));
      REQUIRE(r);
      return *r;
    };
    cluster::node_identity a{"node-a", 1}, b{"node-b", 2};
    auto first = put(cluster::claim_entry{a});
    for (std::uint64_t i = 1; i <= 300; ++i) // past one backward chunk
      put(cluster::group_entry{first, a, i, "g"});
    auto second = put(cluster::claim_entry{b, "127.0.0.1:4711"});
    put(cluster::group_entry{second, b, 1, "h"});
    put(cluster::group_entry{second, b, 2, "i"});
    REQUIRE(append_wait(p0, "not an entry"));
  }
  auto text = run_perdure({"cluster", "status", mock->bootstrap(), "--app",
                           "cst", "--timeout-ms", "60000"});
  INFO(text.out, text.err);
  CHECK(text.code == 0);
  CHECK(has(text.out, "partition 0: end offset 305, epoch 301 claimed by "
                      "node-b#2, 3 records since (1 do not decode), door "
                      "127.0.0.1:4711"));
  CHECK(has(text.out, "partition 1: end offset 0, never claimed"));
  auto json = run_perdure({"cluster", "status", mock->bootstrap(), "--app",
                           "cst", "--timeout-ms", "60000", "--json"});
  REQUIRE(json.code == 0);
  auto j = nlohmann::json::parse(json.out);
  REQUIRE(j["partitions"].size() == 2);
  auto& p = j["partitions"][0];
  CHECK(p["end_offset"] == 305);
  CHECK(p["epoch"] == 301);
  CHECK(p["owner"] == "node-b");
  CHECK(p["incarnation"] == 2);
  CHECK(p["door"] == "127.0.0.1:4711");
  CHECK(p["records_since_claim"] == 3);
  CHECK(j["partitions"][1]["epoch"].is_null());
}
