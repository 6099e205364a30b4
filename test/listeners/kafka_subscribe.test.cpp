// SPDX-License-Identifier: Apache-2.0
// Kafka subscriptions on librdkafka's mock cluster: one workflow per record,
// offsets stored with the submissions, poison records to the dead-letter
// stream, bad options, and the standalone mock-broker program.

#include "perdure/listeners/kafka.hpp"

#include "listener_test_support.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

const auto take_record = step("kafka_test_take", [](kafka_record r) {
  return std::to_string(r.partition) + ":" + std::to_string(r.offset) + "="
         + r.value;
});

std::atomic<int> fail_runs{0};
const auto charge = step("kafka_test_charge", [](long amount) {
  if (amount < 0) {
    ++fail_runs;
    throw std::runtime_error{"negative amount"};
  }
  return amount;
});

long parse_amount(const kafka_record& r) {
  return static_cast<long>(test::record_number(r));
}

using test::wait_until;

std::size_t successful(engine& eng) {
  return eng.list({workflow_status::successful}).size();
}

} // namespace

TEST_CASE("start_workflow starts one workflow per record and stores the "
          "next offsets") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("events", 3).is_ok());
  kafka_producer producer{cluster.bootstrap()};
  for (int i = 0; i < 90; ++i)
    REQUIRE(producer.produce("events", "k" + std::to_string(i),
                             "v" + std::to_string(i), i % 3)
              .is_ok());
  REQUIRE(producer.flush().is_ok());
  test::temp_dir dir;
  kafka_source src{.brokers = cluster.bootstrap(), .topic = "events",
                   .group = "g1"};
  {
    engine eng{{.storage = dir.path()}};
    auto sub = eng.subscribe(src, start_workflow(take_record));
    REQUIRE(wait_until([&] { return successful(eng) == 90; }));
    sub.stop(); // its counts are final (they follow the batch's commit)
    CHECK(sub.stats().records == 90);
    CHECK(sub.stats().started == 90);
    for (int p = 0; p < 3; ++p)
      CHECK(eng.event_log()->offset(offset_key(src, p)).value() == 30);
    CHECK(eng.output<std::string>("kafka/g1/events/1/0") == "1:0=v1");
    CHECK(eng.output<std::string>("kafka/g1/events/2/29") == "2:29=v89");
  }
  // A new engine resumes at the stored offsets: only new records start.
  // A late record last in each partition: once it is taken, any older
  // record of its partition taken again would have been taken before it.
  for (int p = 0; p < 3; ++p)
    REQUIRE(producer.produce("events", "k", "late", p).is_ok());
  REQUIRE(producer.flush().is_ok());
  engine eng{{.storage = dir.path()}};
  auto sub = eng.subscribe(src, start_workflow(take_record));
  REQUIRE(wait_until([&] { return successful(eng) == 93; }));
  sub.stop();
  CHECK(sub.stats().records == 3);
  for (int p = 0; p < 3; ++p)
    CHECK(eng.output<std::string>("kafka/g1/events/" + std::to_string(p)
                                  + "/30")
          == std::to_string(p) + ":30=late");
}

TEST_CASE("poison records go to the dead-letter stream and consumption goes "
          "on") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("payments", 1).is_ok());
  kafka_producer producer{cluster.bootstrap()};
  for (auto v : {"10", "garbage", "20", "-5", "30"})
    REQUIRE(producer.produce("payments", "acct", v, 0).is_ok());
  REQUIRE(producer.flush().is_ok());
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  kafka_source src{.brokers = cluster.bootstrap(), .topic = "payments",
                   .group = "pay"};
  fail_runs = 0;
  auto sub = eng.subscribe(src, start_workflow(charge, parse_amount));
  REQUIRE(wait_until([&] {
    auto d = dead_letters(eng, src);
    return successful(eng) == 3 && d && d->size() == 2;
  }));
  auto dl = dead_letters(eng, src).value();
  std::sort(dl.begin(), dl.end(),
            [](auto& a, auto& b) { return a.offset < b.offset; });
  CHECK(dl[0].offset == 1);
  CHECK(dl[0].value == "garbage");
  CHECK(dl[0].reason.find("undecodable") != std::string::npos);
  CHECK(dl[0].workflow.empty());
  CHECK(dl[1].offset == 3);
  CHECK(dl[1].workflow == "kafka/pay/payments/0/3");
  CHECK(dl[1].reason.find("negative amount") != std::string::npos);
  CHECK(fail_runs.load() == 3); // the configured attempts, then dead letter
  CHECK(eng.output<long>("kafka/pay/payments/0/4") == 30);
  CHECK(eng.event_log()->offset(offset_key(src, 0)).value() == 5);
  auto info = eng.event_log()->info(dead_letter_stream(src)).value();
  CHECK(info.kind == eventlog::stream_kind::dead_letter);
}

TEST_CASE("invalid kafka options are a clear error and start nothing") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  kafka_source bad{.brokers = "127.0.0.1:1", .topic = "t",
                   .properties = {{"no.such.property", "1"}}};
  CHECK(check(bad).to_string().find("no.such.property") != std::string::npos);
  CHECK_THROWS_AS(eng.subscribe(bad, start_workflow(take_record)),
                  perdure::error);
  CHECK(check(kafka_source{.brokers = "x", .topic = ""}).to_string().find(
          "topic")
        != std::string::npos);
  // Pass-through: a real librdkafka property is accepted.
  CHECK(check(kafka_source{.brokers = "x", .topic = "t",
                           .properties = {{"security.protocol", "plaintext"}}})
          .is_ok());
}

TEST_CASE("perdure-mock-kafka prints its bootstrap address and serves "
          "records until killed") {
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl(PERDURE_MOCK_KAFKA, PERDURE_MOCK_KAFKA, "--topic", "m:2",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n')
    line += c;
  close(out[0]);
  REQUIRE(line.rfind("bootstrap: 127.0.0.1:", 0) == 0);
  auto brokers = line.substr(11);
  {
    kafka_producer producer{brokers};
    for (int i = 0; i < 10; ++i)
      REQUIRE(producer.produce("m", "", std::to_string(i), i % 2).is_ok());
    REQUIRE(producer.flush().is_ok());
    test::temp_dir dir;
    engine eng{{.storage = dir.path()}};
    auto sub = eng.subscribe(kafka_source{.brokers = brokers, .topic = "m"},
                             start_workflow(take_record));
    CHECK(wait_until([&] { return successful(eng) == 10; }));
  }
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
}
