// SPDX-License-Identifier: Apache-2.0
// wait_for_event<kafka_listener>(source): a workflow node whose output is
// the next Kafka record. Records go to waiting workflows exactly once and
// in partition order, the stored offset commits with the event, a restart
// resumes from it, and a SIGKILL'd consumer process (with the standalone
// mock broker keeping the data) neither loses nor repeats a record.

#include "child_process.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/listeners/events.hpp"
#include "perdure/listeners/kafka.hpp"
#include "listener_test_support.hpp"
#include "temp_dir.hpp"

#include <algorithm>
#include <cstdio>
#include <doctest/doctest.h>
#include <map>
#include <random>
#include <set>
#include <signal.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

const auto take_record =
    step("kafka_wait_take", [](kafka_record r) { return r; });

workflow<kafka_record> waiter(const kafka_source& src) {
  return take_record(wait_for_event<kafka_listener>(src));
}

using test::wait_until;

std::size_t successful(engine& eng) {
  return eng.list({workflow_status::successful}).size();
}

// The waits of `src` armed in `eng` and not yet handed a record (the gauge
// perdure_kafka_waits); -1 before the first wait of `src` was armed.
double armed(engine& eng, const kafka_source& src) {
  auto series = "perdure_kafka_waits{group=\"" + src.group + "\",topic=\"" +
                src.topic + "\"}";
  auto text = eng.metrics().expose();
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// The time each workflow logged its event (event_received).
std::int64_t event_time(engine& eng, const std::string& id) {
  auto recs = eng.event_log()->read(id).value();
  for (auto& r : recs)
    if (r.kind == eventlog::to_u16(eventlog::record_kind::event_received))
      return r.time;
  return -1;
}

using test::events_logged;

// Checks that the workflows `ids` got every record of `counts` (partition
// -> records) exactly once, each partition's records logged in offset
// order, and that the stored offsets say so.
void check_exactly_once(engine& eng, const kafka_source& src,
                        const std::vector<std::string>& ids,
                        const std::map<std::int32_t, std::int64_t>& counts) {
  std::map<std::int32_t, std::vector<std::pair<std::int64_t, std::int64_t>>>
      by_partition; // partition -> (logged at, offset)
  std::set<std::pair<std::int32_t, std::int64_t>> seen;
  int duplicates = 0, missing = 0, events = 0;
  for (auto& id : ids) {
    auto r = eng.try_output<kafka_record>(id);
    if (!r) {
      ++missing;
      continue;
    }
    CHECK(r->topic == src.topic);
    CHECK(r->value ==
          "v" + std::to_string(r->partition) + "/" + std::to_string(r->offset));
    CHECK(r->timestamp > 0);
    if (!seen.insert({r->partition, r->offset}).second)
      ++duplicates;
    by_partition[r->partition].push_back({event_time(eng, id), r->offset});
    events += events_logged(eng, id);
  }
  CHECK(missing == 0);
  CHECK(duplicates == 0);
  CHECK(events == static_cast<int>(ids.size()));
  std::size_t total = 0;
  for (auto& [p, n] : counts) {
    total += static_cast<std::size_t>(n);
    CHECK(eng.event_log()->offset(offset_key(src, p)).value() == n);
    for (std::int64_t o = 0; o < n; ++o)
      CHECK(seen.count({p, o}) == 1);
    auto& logged = by_partition[p];
    std::sort(logged.begin(), logged.end());
    for (std::size_t i = 1; i < logged.size(); ++i)
      CHECK(logged[i - 1].second < logged[i].second);
  }
  CHECK(seen.size() == total);
}

void produce(const std::string& brokers, const std::string& topic,
             int partitions, int per_partition, int from = 0) {
  kafka_producer producer{brokers};
  for (int o = from; o < from + per_partition; ++o)
    for (int p = 0; p < partitions; ++p)
      REQUIRE(producer
                  .produce(topic, "k" + std::to_string(o),
                           "v" + std::to_string(p) + "/" + std::to_string(o), p)
                  .is_ok());
  REQUIRE(producer.flush().is_ok());
}

std::vector<std::string> ids_of(const std::string& prefix, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i)
    ids.push_back(prefix + std::to_string(i));
  return ids;
}

} // namespace

TEST_CASE("workflows waiting for Kafka records each get a distinct record, "
          "in partition order, with its offset stored") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("events", 2).is_ok());
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  kafka_source src{
      .brokers = cluster.bootstrap(), .topic = "events", .group = "waiters"};
  // The waits are armed before the records exist.
  auto ids = ids_of("w/", 40);
  for (auto& id : ids)
    eng.run_async(waiter(src), id);
  REQUIRE(wait_until([&] { return armed(eng, src) == 40; }));
  CHECK(successful(eng) == 0);
  produce(cluster.bootstrap(), "events", 2, 25); // 50 records for 40 waits
  REQUIRE(wait_until([&] { return successful(eng) == 40; }));
  // 40 of the 50 records were taken: per partition a prefix, no gap. (An
  // offset commits with its event, so all 40 are stored by now.) That no
  // record went anywhere else — a 41st event, a record taken for no wait —
  // is checked below, once the 10 waits armed next took the last 10.
  auto o0 = eng.event_log()->offset(offset_key(src, 0)).value().value_or(0);
  auto o1 = eng.event_log()->offset(offset_key(src, 1)).value().value_or(0);
  CHECK(o0 + o1 == 40);
  check_exactly_once(eng, src, ids, {{0, o0}, {1, o1}});
  // The rest goes to the next waits, from where the log says.
  auto more = ids_of("more/", 10);
  for (auto& id : more)
    eng.run_async(waiter(src), id);
  REQUIRE(wait_until([&] { return successful(eng) == 50; }));
  ids.insert(ids.end(), more.begin(), more.end());
  check_exactly_once(eng, src, ids, {{0, 25}, {1, 25}});
  CHECK(armed(eng, src) == 0);
}

TEST_CASE("a restart resumes the waits from the stored offsets") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("restart", 1).is_ok());
  test::temp_dir dir;
  kafka_source src{
      .brokers = cluster.bootstrap(), .topic = "restart", .group = "g"};
  auto ids = ids_of("r/", 10);
  produce(cluster.bootstrap(), "restart", 1, 4);
  {
    engine eng{{.storage = dir.path()}};
    for (auto& id : ids)
      eng.run_async(waiter(src), id);
    REQUIRE(wait_until([&] { return successful(eng) == 4; }));
    REQUIRE(wait_until([&] { return armed(eng, src) == 6; }));
  } // six workflows still wait
  produce(cluster.bootstrap(), "restart", 1, 6, 4);
  engine eng{{.storage = dir.path(), .resume_on_open = false}};
  // Nothing was delivered after the fourth record: the engine's end, not a
  // time, is when no more could be.
  CHECK(successful(eng) == 4);
  CHECK(eng.resume_all().size() == 6);
  REQUIRE(wait_until([&] { return successful(eng) == 10; }));
  check_exactly_once(eng, src, ids, {{0, 10}});
}

TEST_CASE("a canceled waiter's record goes to the next waiter") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("cancel", 1).is_ok());
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  kafka_source src{
      .brokers = cluster.bootstrap(), .topic = "cancel", .group = "g"};
  auto first = eng.run_async(waiter(src), "first");
  REQUIRE(wait_until([&] { return armed(eng, src) == 1; }));
  eng.cancel("first");
  CHECK_THROWS(first.get());
  // The consumer forgets the canceled wait...
  REQUIRE(wait_until([&] { return armed(eng, src) == 0; }));
  auto second = eng.run_async(waiter(src), "second");
  REQUIRE(wait_until([&] { return armed(eng, src) == 1; }));
  produce(cluster.bootstrap(), "cancel", 1, 1);
  // ... and hands the record to the next one.
  REQUIRE(second.wait_for(60s));
  auto r = second.get();
  CHECK(r.offset == 0);
  CHECK(r.key == "k0");
  CHECK(eng.event_log()->offset(offset_key(src, 0)).value() == 1);
}

// How fast a record reaches its waiting workflow is a figure of
// `perdure-bench kafka-wait`; here: each record reaches the workflow that
// waits when it is produced.
TEST_CASE("a record produced while a workflow waits reaches it") {
  kafka_mock_cluster cluster;
  REQUIRE(cluster.create_topic("sparse", 1).is_ok());
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  kafka_source src{.brokers = cluster.bootstrap(), .topic = "sparse"};
  kafka_producer producer{cluster.bootstrap()};
  for (int i = 0; i < 3; ++i) {
    auto h = eng.run_async(waiter(src), "sparse/" + std::to_string(i));
    REQUIRE(wait_until([&] { return armed(eng, src) == 1; }));
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(
        producer.produce("sparse", "k", "v0/" + std::to_string(i), 0).is_ok());
    REQUIRE(producer.flush().is_ok());
    REQUIRE(h.wait_for(60s));
    CHECK(h.get().offset == i);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
    MESSAGE("record " << i << " reached its workflow in " << ms << " ms");
  }
}

TEST_CASE("a Kafka wait with a bad property is refused with the property "
          "named, before anything is logged") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  kafka_source bad{.brokers = "127.0.0.1:1",
                   .topic = "t",
                   .properties = {{"no.such.property", "1"}}};
  try {
    (void) waiter(bad);
    FAIL("an unknown property was accepted");
  } catch (const perdure::error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK(std::string{e.what()}.find("no.such.property") != std::string::npos);
  }
  // A source built by a step is checked when the node runs: the attempt
  // fails naming the property.
  const auto make_source =
      step("kafka_wait_bad_source", [](std::string brokers) {
        return kafka_source{.brokers = brokers,
                            .topic = "t",
                            .properties = {{"no.such.property", "1"}}};
      });
  auto r = eng.try_run(
      take_record(wait_for_event<kafka_listener>(make_source("127.0.0.1:1"))),
      "bad");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().to_string().find("no.such.property") != std::string::npos);
  CHECK(eng.status("bad") == workflow_status::failed);
}

TEST_CASE("a Kafka wait refuses a literal secret before logging anything") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  kafka_source src{.brokers = "127.0.0.1:1",
                   .topic = "t",
                   .properties = {{"sasl.password", "hunter2"}}};
  try {
    (void) waiter(src);
    FAIL("a literal sasl.password was accepted");
  } catch (const perdure::error& e) {
    CHECK(e.code() == errc::invalid_argument);
    std::string what = e.what();
    CHECK(what.find("sasl.password") != std::string::npos);
    CHECK(what.find("env:") != std::string::npos);
    CHECK(what.find("hunter2") == std::string::npos);
  }
  CHECK(eng.list().empty());
}

TEST_CASE("kafka properties read \"env:NAME\" values from the environment") {
  kafka_source src{.brokers = "127.0.0.1:1", .topic = "t"};
  src.properties = {{"socket.timeout.ms", "env:PERDURE_TEST_KAFKA_TIMEOUT"}};
  ::unsetenv("PERDURE_TEST_KAFKA_TIMEOUT");
  auto unset = check(src);
  REQUIRE_FALSE(unset);
  CHECK(unset.message().find("PERDURE_TEST_KAFKA_TIMEOUT") != std::string::npos);
  ::setenv("PERDURE_TEST_KAFKA_TIMEOUT", "not-a-number", 1);
  CHECK_FALSE(check(src)); // the variable's value reached librdkafka
  ::setenv("PERDURE_TEST_KAFKA_TIMEOUT", "1500", 1);
  CHECK(check(src));
  ::unsetenv("PERDURE_TEST_KAFKA_TIMEOUT");

  // A secret given as env:NAME is fine for a wait; a rejected secret's
  // value never shows in the error.
  src.properties = {{"sasl.password", "env:PERDURE_TEST_KAFKA_PASSWORD"}};
  CHECK(check_loggable(src));
  src.properties = {{"my.secret", "hunter2"}};
  auto bad = check(src);
  REQUIRE_FALSE(bad);
  CHECK(bad.message().find("my.secret") != std::string::npos);
  CHECK(bad.message().find("hunter2") == std::string::npos);
}

// -- SIGKILL
// ---------------------------------------------------------------------

namespace {

constexpr int crash_partitions = 3;
constexpr int crash_per_partition = 400;
constexpr int crash_waiters = crash_partitions * crash_per_partition;

kafka_source crash_source(const std::string& brokers) {
  return {.brokers = brokers, .topic = "crash", .group = "crash"};
}


// The standalone mock broker: keeps the records while consumers die.
struct mock_broker {
  pid_t pid = -1;
  std::string bootstrap;
  explicit mock_broker(const std::string& topic) {
    int out[2];
    REQUIRE(pipe(out) == 0);
    pid = fork();
    if (pid == 0) {
      dup2(out[1], 1);
      close(out[0]);
      execl(PERDURE_MOCK_KAFKA, PERDURE_MOCK_KAFKA, "--topic", topic.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n')
      line += c;
    close(out[0]);
    REQUIRE(line.rfind("bootstrap: ", 0) == 0);
    bootstrap = line.substr(11);
  }
  ~mock_broker() {
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
  }
};

} // namespace

PERDURE_CHILD_ENTRY("kafka_waiter") {
  engine eng{{.storage = args.at(0)}};
  auto src = crash_source(args.at(1));
  // Starts the waiters not started yet; resumes the others.
  for (auto& id : ids_of("crash/", crash_waiters))
    (void)eng.try_run_async(waiter(src), id);
  std::printf("waiting\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(120s);
  return 0;
}

TEST_CASE("every record reaches exactly one waiting workflow across "
          "SIGKILLs of the consumer process") {
  mock_broker broker{"crash:" + std::to_string(crash_partitions)};
  produce(broker.bootstrap, "crash", crash_partitions, crash_per_partition);
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  auto src = crash_source(broker.bootstrap);
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> progress{1, 40};
  int kills = 0, mid_way = 0;
  std::int64_t before = 0;
  for (int round = 0; round < 30 && mid_way < 6 && before < crash_waiters;
       ++round) {
    test::child_process child{"kafka_waiter", {storage, broker.bootstrap}};
    REQUIRE(child.read_line(60s) == "waiting");
    // Kill on observed progress, never after a time: once the child stored
    // a random few more offsets of its own (so the kill lands while records
    // are being taken, however fast the machine). Every fourth round kills
    // at once, before its first batch.
    if (round % 4 != 3) {
      auto target = std::min<std::int64_t>(before + progress(rng),
                                           crash_waiters);
      (void)test::wait_until(
          [&] {
            return test::stored_offsets(storage, src, crash_partitions)
                   >= target;
          },
          60s, 1ms);
    }
    child.kill();
    ++kills;
    auto now = test::stored_offsets(storage, src, crash_partitions);
    MESSAGE("kill " << kills << ": records taken " << before << " -> " << now);
    CHECK(now >= before); // a stored offset never goes back
    if (now > before && now < crash_waiters)
      ++mid_way;
    before = now;
  }
  CHECK(mid_way >= 3); // killed while consuming, not only before or after
  engine eng{{.storage = storage}};
  eng.resume_all();
  auto ids = ids_of("crash/", crash_waiters);
  for (auto& id : ids)
    (void)eng.try_run_async(waiter(src), id);
  REQUIRE(wait_until([&] { return successful(eng) == crash_waiters; }, 120s));
  std::map<std::int32_t, std::int64_t> counts;
  for (int p = 0; p < crash_partitions; ++p)
    counts[p] = crash_per_partition;
  check_exactly_once(eng, src, ids, counts);
}
