// SPDX-License-Identifier: Apache-2.0
// kafka_log against perdure-mock-kafka (3 brokers): appends, reads,
// end offsets, the readable hint, two nodes on one partition, record size
// limit, describe.

#include <doctest/doctest.h>

#include "kafka_log_test_util.hpp"

#include <atomic>
#include <set>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

TEST_CASE("perdure-mock-kafka obeys its control channel") {
  kafka_mock_process mock{{"--brokers", "3"}};
  CHECK(mock.bootstrap().rfind("127.0.0.1:", 0) == 0);
  CHECK(mock.command("ping") == "ok");
  CHECK(mock.command("topic t 2") == "ok");
  CHECK(mock.command("topic t 2").rfind("error: ", 0) == 0); // exists
  CHECK(mock.command("topic u 1 4").rfind("error: ", 0) == 0); // 4 > 3
  CHECK(mock.command("leader t 1 3") == "ok");
  CHECK(mock.command("leader t 1 4").rfind("error: ", 0) == 0);
  CHECK(mock.command("broker down 2") == "ok");
  CHECK(mock.command("broker up 2") == "ok");
  CHECK(mock.command("broker down 0").rfind("error: no broker", 0) == 0);
  CHECK(mock.command("rtt 1 5") == "ok");
  CHECK(mock.command("rtt 1 0") == "ok");
  CHECK(mock.command("fly away").rfind("error: unknown command", 0) == 0);
  CHECK(mock.command("ping") == "ok"); // still serving
}

TEST_CASE("kafka_log refuses bad options and a missing topic") {
  auto mock = start_mock("a", 1);
  auto o = log_options(*mock, "a");
  auto bad = [&](auto change) {
    auto copy = o;
    change(copy);
    auto log = kafka_log::open(copy);
    return log ? status{} : log.error();
  };
  CHECK(bad([](auto& c) { c.app = ""; }) == errc::invalid_argument);
  CHECK(bad([](auto& c) { c.brokers = ""; }) == errc::invalid_argument);
  auto acks = bad([](auto& c) { c.properties["acks"] = "1"; });
  CHECK(acks == errc::invalid_argument);
  CHECK(acks.message().find("acks is 1; it must be all") != std::string::npos);
  CHECK(bad([](auto& c) { c.properties["enable.idempotence"] = "false"; })
        == errc::invalid_argument);
  auto unknown = bad([](auto& c) { c.properties["no.such.thing"] = "1"; });
  CHECK(unknown == errc::invalid_argument);
  CHECK(unknown.message().find("'no.such.thing'") != std::string::npos);
  // A refused value is not repeated (it may be a secret).
  auto value = bad([](auto& c) { c.properties["linger.ms"] = "s3cr3t"; });
  CHECK(value == errc::invalid_argument);
  CHECK(value.message().find("'linger.ms'") != std::string::npos);
  CHECK(value.message().find("s3cr3t") == std::string::npos);
  // No broker answers: a timeout, bounded by open_timeout.
  auto away = bad([](auto& c) {
    c.brokers = "127.0.0.1:1";
    c.open_timeout = 300ms;
  });
  CHECK(away == errc::timeout);
  CHECK(away.message().find("perdure.a.log") != std::string::npos);
  // The mock creates a topic any metadata request names (its Metadata is
  // v0-v2, without AllowAutoTopicCreation): a missing topic shows up with
  // the mock's 4 partitions; the topic check then catches the count.
  auto missing = kafka_log::open(log_options(*mock, "nobody"));
  REQUIRE(missing);
  CHECK((*missing)->partition_count() == 4);
}

TEST_CASE("appends read back in order with their offsets") {
  auto mock = start_mock("seq", 2);
  auto log = kafka_log::open(log_options(*mock, "seq"));
  REQUIRE(log);
  CHECK((*log)->topic() == "perdure.seq.log");
  REQUIRE((*log)->partition_count() == 2);
  auto& p0 = (*log)->partition(0);
  auto& p1 = (*log)->partition(1);
  auto e0 = p0.end_offset(30s);
  REQUIRE(e0);
  CHECK(*e0 == 0);
  // Sequential appends: each answer is the next offset.
  std::vector<log_offset> offsets;
  for (int i = 0; i < 20; ++i) {
    auto r = append_wait(p0, "r" + std::to_string(i));
    REQUIRE(r);
    offsets.push_back(*r);
  }
  for (std::size_t i = 1; i < offsets.size(); ++i)
    CHECK(offsets[i] > offsets[i - 1]);
  // Pipelined appends of one caller keep their order.
  append_tally tally{200};
  for (std::size_t i = 0; i < 200; ++i)
    p0.append("q" + std::to_string(i), tally.done(i));
  REQUIRE(wait_until([&] { return tally.count() == 200; }));
  for (std::size_t i = 0; i < 200; ++i) {
    REQUIRE(tally.answers[i]);
    CHECK(*tally.answers[i] > (i ? *tally.answers[i - 1] : offsets.back()));
  }
  auto all = read_count(p0, 0, 220);
  REQUIRE(all.size() == 220);
  for (std::size_t i = 0; i < 220; ++i) {
    auto want = i < 20 ? "r" + std::to_string(i)
                       : "q" + std::to_string(i - 20);
    CHECK(all[i].bytes == want);
    CHECK(all[i].offset == (i < 20 ? offsets[i] : *tally.answers[i - 20]));
  }
  // end_offset is the offset after the last record read.
  auto end = p0.end_offset(30s);
  REQUIRE(end);
  CHECK(*end == all.back().offset + 1);
  auto none = p0.read(*end, 10, 20ms);
  REQUIRE(none);
  CHECK(none->empty());
  // A read from the middle, and a read of a bounded count.
  auto mid = p0.read(all[100].offset, 5, 30s);
  REQUIRE(mid);
  REQUIRE(mid->size() <= 5);
  REQUIRE(!mid->empty());
  CHECK(mid->front().bytes == all[100].bytes);
  // The other partition is untouched.
  auto e1 = p1.end_offset(30s);
  REQUIRE(e1);
  CHECK(*e1 == 0);
  CHECK(p0.read(-1, 1, 0ms).error() == errc::invalid_argument);
}

TEST_CASE("a reader at the log's end is told when a record comes") {
  auto mock = start_mock("tell", 1);
  auto log = kafka_log::open(log_options(*mock, "tell"));
  REQUIRE(log);
  auto& p0 = (*log)->partition(0);
  std::atomic<int> told{0};
  p0.on_readable([&told] { ++told; });
  auto none = p0.read(0, 1, 0ms); // starts fetching at the end
  REQUIRE(none);
  CHECK(none->empty());
  auto at = append_wait(p0, "first");
  REQUIRE(at);
  REQUIRE(wait_until([&] { return told > 0; }));
  auto got = p0.read(*at, 1, 30s);
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  CHECK(got->front().bytes == "first");
  // Removed: not called again, also while records come.
  p0.on_readable({});
  int before = told;
  auto next = append_wait(p0, "second");
  REQUIRE(next);
  got = p0.read(*next, 1, 30s);
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  CHECK(told == before);
}

TEST_CASE("a reader knows the end it last fetched without asking") {
  auto mock = start_mock("known", 2);
  auto log = kafka_log::open(log_options(*mock, "known"));
  REQUIRE(log);
  auto& p0 = (*log)->partition(0);
  CHECK_FALSE(p0.known_end().has_value()); // nothing fetched yet
  for (const char* b : {"a", "b", "c"})
    REQUIRE(append_wait(p0, b));
  auto got = p0.read(0, 3, 30s);
  REQUIRE(got);
  REQUIRE_FALSE(got->empty());
  // The fetch answer that brought records carried the high watermark.
  REQUIRE(wait_until([&] {
    auto e = p0.known_end();
    return e.has_value() && *e == 3;
  }));
  // A partition nobody reads here is not known.
  CHECK_FALSE((*log)->partition(1).known_end().has_value());
  (*log)->close();
  CHECK_FALSE(p0.known_end().has_value());
}

TEST_CASE("readers on one partition and on several, from many threads") {
  auto mock = start_mock("many", 2);
  auto log = kafka_log::open(log_options(*mock, "many"));
  REQUIRE(log);
  constexpr std::size_t n = 500;
  for (int p = 0; p < 2; ++p) {
    append_tally t{n};
    for (std::size_t i = 0; i < n; ++i)
      (*log)->partition(p).append(std::to_string(p) + ":" +
                                      std::to_string(i),
                                  t.done(i));
    REQUIRE(wait_until([&] { return t.count() == n; }));
  }
  // Four threads per partition, each reading all from its own start.
  std::vector<std::vector<log_record>> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      got[t] = read_count((*log)->partition(t % 2), 0, n);
    });
  for (auto& t : threads)
    t.join();
  for (int t = 0; t < 8; ++t) {
    REQUIRE(got[t].size() == n);
    for (std::size_t i = 0; i < n; ++i)
      CHECK(got[t][i].bytes
            == std::to_string(t % 2) + ":" + std::to_string(i));
  }
}

TEST_CASE("two nodes appending to one partition read the same sequence") {
  auto mock = start_mock("two", 1);
  auto a = kafka_log::open(log_options(*mock, "two"));
  auto b = kafka_log::open(log_options(*mock, "two"));
  REQUIRE(a);
  REQUIRE(b);
  constexpr std::size_t n = 300;
  append_tally ta{n}, tb{n};
  std::thread other{[&] {
    for (std::size_t i = 0; i < n; ++i)
      (*b)->partition(0).append("b" + std::to_string(i), tb.done(i));
  }};
  for (std::size_t i = 0; i < n; ++i)
    (*a)->partition(0).append("a" + std::to_string(i), ta.done(i));
  other.join();
  REQUIRE(wait_until([&] { return ta.count() == n && tb.count() == n; }));
  auto ra = read_count((*a)->partition(0), 0, 2 * n);
  auto rb = read_count((*b)->partition(0), 0, 2 * n);
  REQUIRE(ra.size() == 2 * n);
  REQUIRE(rb.size() == 2 * n);
  std::set<log_offset> acked;
  for (std::size_t i = 0; i < n; ++i) {
    REQUIRE(ta.answers[i]);
    REQUIRE(tb.answers[i]);
    acked.insert(*ta.answers[i]);
    acked.insert(*tb.answers[i]);
  }
  CHECK(acked.size() == 2 * n); // every append its own offset
  std::size_t next_a = 0, next_b = 0;
  for (std::size_t i = 0; i < 2 * n; ++i) {
    CHECK(ra[i].offset == rb[i].offset);
    CHECK(ra[i].bytes == rb[i].bytes);
    CHECK(acked.count(ra[i].offset) == 1);
    // Each node's records in the order it appended them.
    if (ra[i].bytes[0] == 'a')
      CHECK(ra[i].bytes == "a" + std::to_string(next_a++));
    else
      CHECK(ra[i].bytes == "b" + std::to_string(next_b++));
  }
  CHECK(next_a == n);
  CHECK(next_b == n);
}

TEST_CASE("a record over the size limit is a clear error, later ones land") {
  auto mock = start_mock("big", 1);
  auto o = log_options(*mock, "big");
  o.properties["message.max.bytes"] = "100000";
  auto log = kafka_log::open(o);
  REQUIRE(log);
  auto& p = (*log)->partition(0);
  auto first = append_wait(p, "before");
  REQUIRE(first);
  auto big = append_wait(p, std::string(200000, 'x'));
  REQUIRE(!big);
  CHECK(big.error() == errc::invalid_argument);
  CHECK(big.error().message().find("200000 bytes") != std::string::npos);
  CHECK(big.error().message().find("message.max.bytes is 100000")
        != std::string::npos);
  auto after = append_wait(p, "after");
  REQUIRE(after);
  auto all = read_count(p, 0, 2);
  REQUIRE(all.size() == 2);
  CHECK(all[0].bytes == "before");
  CHECK(all[1].bytes == "after");
  CHECK(all[1].offset == *after);
}

TEST_CASE("a read below the first offset kept is not_found") {
  // The mock keeps about 5 MiB per partition and drops older batches.
  auto mock = start_mock("trim", 1);
  auto log = kafka_log::open(log_options(*mock, "trim"));
  REQUIRE(log);
  auto& p = (*log)->partition(0);
  for (int i = 0; i < 14; ++i)
    REQUIRE(append_wait(p, std::string(500000, 'a' + i % 26)));
  auto r = p.read(0, 1, 30s);
  REQUIRE(!r);
  CHECK(r.error() == errc::not_found);
  CHECK(r.error().message().find("first kept offset") != std::string::npos);
  // Reading on from the end still works.
  auto end = p.end_offset(30s);
  REQUIRE(end);
  auto last = p.read(*end - 1, 1, 30s);
  REQUIRE(last);
  REQUIRE(last->size() == 1);
  CHECK(last->front().bytes == std::string(500000, 'a' + 13));
}

TEST_CASE("describe reads what the mock reports, the checker judges it") {
  auto mock = start_mock("desc", 4);
  auto log = kafka_log::open(log_options(*mock, "desc"));
  REQUIRE(log);
  auto d = (*log)->describe(3s);
  REQUIRE(d);
  CHECK(d->topic == "perdure.desc.log");
  CHECK(d->partitions == 4);
  CHECK(d->replication_factor == 3);
  CHECK(d->fewest_in_sync == 3);
  // librdkafka 2.0.2's mock has no DescribeConfigs.
  CHECK(!d->configs);
  CHECK(d->configs_error.find("DescribeConfigs") != std::string::npos);
  MESSAGE("mock DescribeConfigs: " << d->configs_error);
  CHECK(check_kafka_topic(*d, {.partitions = 4}) == errc::invalid_argument);
  CHECK(check_kafka_topic(*d, {.partitions = 4, .require_configs = false})
            .is_ok());
  auto wrong = check_kafka_topic(*d, {.partitions = 8,
                                      .min_replication_factor = 4,
                                      .require_configs = false});
  CHECK(wrong.message().find("partition count is 4; it must be 8")
        != std::string::npos);
  CHECK(wrong.message().find("replication factor is 3; it must be at least 4")
        != std::string::npos);
}
