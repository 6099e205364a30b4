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
