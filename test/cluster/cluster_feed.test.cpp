// SPDX-License-Identifier: Apache-2.0
// Kafka feeds on a cluster (perdure/cluster/kafka_feed.hpp): two hosts on
// a 4-partition log consume one input topic in one consumer group; each
// record's workflow start, signal or actor call reaches the owner of its
// id once; poison records land in the dead-letter topic; and a batch sent
// again (the group's offsets set back, as after a node died before it
// committed them) changes nothing. On the 3-broker mock.

#include "node_test_util.hpp"
#include "perdure/cluster/kafka_actors.hpp"
#include "perdure/cluster/kafka_feed.hpp"
#include "temp_dir.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <map>
#include <perdure/perdure.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

std::atomic<int> kf_runs{0};

const auto kf_order = step("kf_order", [](kafka_record r) {
  ++kf_runs;
  if (r.value == "poison")
    throw std::runtime_error{"never: the decoder refuses it"};
  return std::stoi(r.value) * 2;
});

const auto kf_sum3 =
    step("kf_sum3", [](int a, int b, int c) { return a + b + c; });

workflow<int> kf_three_signals() {
  return kf_sum3(wait_for_signal<int>("add"), wait_for_signal<int>("add"),
                 wait_for_signal<int>("add"));
}

struct kf_account {
  long balance = 0;
  int applied = 0;
  long apply(long amount) {
    if (amount < 0)
      throw std::runtime_error{"a negative amount"};
    balance += amount;
    ++applied;
    return balance;
  }
  long get() const {
    return balance;
  }
  int count() const {
    return applied;
  }
};
PERDURE_ACTOR(kf_account, (balance, applied), (apply, get, count))

template <class R> auto got(R r) {
  REQUIRE_MESSAGE(r, r.error().to_string());
  return std::move(r).value();
}

engine_host_options kf_options(const kafka_mock_process& mock,
                               const std::filesystem::path& dir,
                               const std::string& id) {
  engine_host_options o;
  o.node = node_options_for(mock, "feed", dir, id);
  o.engine.actor_threads = 1;
  o.engine.stop_timeout = std::chrono::milliseconds{200};
  o.serve_address = "127.0.0.1:0";
  o.actor_calls = served_actors<kf_account>();
  return o;
}

// Every partition is led by one of `hosts` with its engine open, and every
// host knows that owner's door.
bool all_served(const std::vector<engine_host*>& hosts, partition_id parts) {
  for (partition_id p = 0; p < parts; ++p) {
    engine_host* owner = nullptr;
    for (auto* h : hosts)
      if (h->engine_of(p))
        owner = h;
    if (!owner)
      return false;
    auto door = "127.0.0.1:" + std::to_string(*owner->door_port());
    for (auto* h : hosts)
      if (h->cluster_node().partitions().at(p).owner_endpoint != door)
        return false;
  }
  return true;
}

// A mock with the log (4 partitions) and topics `in` (4 partitions) and
// its dead-letter topic; hosts a and b serve every partition between them.
struct two_hosts {
  std::unique_ptr<kafka_mock_process> mock = start_mock("feed", 4);
  temp_dir dir;
  std::unique_ptr<engine_host> a, b;

  explicit two_hosts(const std::string& in) {
    REQUIRE(mock->command("topic " + in + " 4") == "ok");
    REQUIRE(mock->command("topic " + in + ".dead-letter 1") == "ok");
    a = got(engine_host::start(kf_options(*mock, dir / "a", "a")));
    REQUIRE(wait_until([&] { return a->running().size() == 4; }, 60s));
    b = got(engine_host::start(kf_options(*mock, dir / "b", "b")));
    REQUIRE(wait_until(
        [&] {
          return !b->running().empty() && all_served({a.get(), b.get()}, 4);
        },
        60s));
  }

  kafka_source source(const std::string& topic, const std::string& group) {
    return {.brokers = mock->bootstrap(),
            .topic = topic,
            .group = group,
            // The mock holds a first join 3 s: sessions above it. A
            // JoinGroup the mock never answers (under load) is given up
            // after max.poll.interval.ms + 3 s: 18 s, not 303 s.
            .properties = {{"session.timeout.ms", "6000"},
                           {"heartbeat.interval.ms", "500"},
                           {"max.poll.interval.ms", "15000"}},
            .max_batch = 50};
  }

  void produce(const std::string& topic,
               const std::vector<std::pair<std::string, std::string>>& kv) {
    kafka_producer p{mock->bootstrap()};
    for (auto& [k, v] : kv)
      REQUIRE(p.produce(topic, k, v).is_ok());
    REQUIRE(p.flush().is_ok());
  }
};

feed_options quiet() {
  feed_options o;
  o.log = [](eventlog::log_level l, std::string_view m) {
    if (std::getenv("PERDURE_TEST_FEED_LOG"))
      std::fprintf(stderr, "feed %s: %.*s\n", eventlog::to_string(l).data(),
                   static_cast<int>(m.size()), m.data());
  };
  o.retry_wait = std::chrono::milliseconds{200};
  return o;
}

std::uint64_t consumed(const std::vector<std::unique_ptr<feed>>& feeds) {
  std::uint64_t n = 0;
  for (auto& f : feeds)
    n += f->stats().records;
  return n;
}

std::string errors_of(const std::vector<std::unique_ptr<feed>>& feeds) {
  std::string out;
  for (auto& f : feeds)
    out += "[" + f->last_error() + "] ";
  return out;
}

// A consumer of `group` (not subscribed) for the test's own offsets work.
struct raw_consumer {
  rd_kafka_t* rk = nullptr;
  raw_consumer(const std::string& brokers, const std::string& group) {
    auto conf = rd_kafka_conf_new();
    char err[256];
    for (auto [k, v] : std::map<std::string, std::string>{
             {"bootstrap.servers", brokers},
             {"group.id", group},
             {"enable.auto.commit", "false"},
             {"auto.offset.reset", "earliest"},
             // The mock holds a rebalance's joins for the session timeout
             // (less 1 s) after this member left: short.
             {"session.timeout.ms", "6000"},
             {"heartbeat.interval.ms", "500"}})
      REQUIRE(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) ==
              RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    REQUIRE(rk);
    rd_kafka_poll_set_consumer(rk);
  }
  ~raw_consumer() {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }

  // Sets the group's offsets of `topic`'s partitions to 0: as if every
  // batch was consumed by a node that died before its commit. The mock
  // takes a commit only from a member of the group: joins it first.
  void rewind(const std::string& topic, int parts) {
    auto sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
    REQUIRE(rd_kafka_subscribe(rk, sub) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(sub);
    REQUIRE(wait_until(
        [&] {
          if (auto* m = rd_kafka_consumer_poll(rk, 100))
            rd_kafka_message_destroy(m); // fetched: not committed
          rd_kafka_topic_partition_list_t* a = nullptr;
          bool all = !rd_kafka_assignment(rk, &a) && a->cnt == parts;
          if (a)
            rd_kafka_topic_partition_list_destroy(a);
          return all;
        },
        60s, 0ms));
    auto list = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; ++p)
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = 0;
    auto err = rd_kafka_commit(rk, list, 0);
    rd_kafka_topic_partition_list_destroy(list);
    REQUIRE_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR, rd_kafka_err2str(err));
  }

  // The records of `topic` partition 0 from the start until `count`
  // distinct values came (or a minute passed): value and header
  // perdure.reason, the first of each value. A dead letter may be there
  // twice: a batch whose offsets commit failed (a rebalance as the second
  // node joins) is sent again, its dead letters produced again.
  std::vector<std::pair<std::string, std::string>>
  read(const std::string& topic, std::size_t count) {
    auto list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    REQUIRE(rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
    std::vector<std::pair<std::string, std::string>> out;
    std::set<std::string> seen;
    wait_until(
        [&] {
          while (auto* m = rd_kafka_consumer_poll(rk, 100)) {
            if (!m->err) {
              std::string reason;
              rd_kafka_headers_t* h = nullptr;
              const void* v = nullptr;
              std::size_t n = 0;
              if (!rd_kafka_message_headers(m, &h) &&
                  !rd_kafka_header_get_last(h, "perdure.reason", &v, &n))
                reason.assign(static_cast<const char*>(v), n);
              std::string value{static_cast<const char*>(m->payload), m->len};
              if (seen.insert(value).second)
                out.emplace_back(std::move(value), reason);
            }
            rd_kafka_message_destroy(m);
          }
          return out.size() >= count;
        },
        60s, 0ms);
    return out;
  }
};

} // namespace

TEST_CASE("a feed on two nodes starts one workflow per record on its "
          "owner, once, also when the records are sent again") {
  kf_runs = 0;
  two_hosts hosts{"orders"};
  auto src = hosts.source("orders", "g-orders");
  std::vector<std::pair<std::string, std::string>> kv;
  for (int i = 0; i < 120; ++i)
    kv.emplace_back("k" + std::to_string(i), std::to_string(i));
  kv.emplace_back("bad", "poison");
  hosts.produce("orders", kv);
  // The decoder refuses "poison": a dead letter, nothing started.
  auto decode = [](const kafka_record& r) {
    if (r.value == "poison")
      throw std::invalid_argument{"not a number"};
    return r;
  };
  std::vector<std::unique_ptr<feed>> feeds;
  for (auto* h : {hosts.a.get(), hosts.b.get()})
    feeds.push_back(
        got(subscribe(*h, src, start_workflow(kf_order, decode), quiet())));
  bool all = wait_until([&] { return consumed(feeds) == kv.size(); }, 90s);
  INFO("consumed " << consumed(feeds) << ", errors " << errors_of(feeds));
  REQUIRE(all);
  CHECK(feeds[0]->stats().dead_letters + feeds[1]->stats().dead_letters == 1);
  // Each node's /metrics counts what its feed committed, and reports the
  // lag of the partitions it consumes.
  double on_metrics = 0;
  std::string lag;
  for (auto* h : {hosts.a.get(), hosts.b.get()}) {
    auto text = h->metrics_text();
    std::string series = "perdure_kafka_feed_records_total{group=\"g-orders\","
                         "topic=\"orders\"} ";
    auto at = text.find(series);
    REQUIRE(at != std::string::npos);
    on_metrics += std::stod(text.substr(at + series.size()));
    if (auto l = text.find("perdure_kafka_feed_lag{"); l != std::string::npos)
      lag = text.substr(l, text.find('\n', l) - l);
  }
  CHECK(on_metrics == static_cast<double>(kv.size()));
  CHECK(lag.find("partition=") != std::string::npos);
  CHECK(lag.ends_with(" 0"));
  // The group shares the topic's 4 partitions out between the two nodes.
  CHECK(wait_until(
      [&] {
        return feeds[0]->assigned().size() + feeds[1]->assigned().size() == 4;
      },
      60s));

  // Every record's workflow, on its owner, read from either node.
  std::map<partition_id, int> per_partition;
  std::multiset<int> outputs, expected;
  auto ids = got(hosts.b->try_list());
  for (auto& e : ids) {
    CHECK(e.id.starts_with("kafka/g-orders/orders/"));
    outputs.insert(got(hosts.a->try_output<int>(e.id)));
    ++per_partition[hosts.a->routing().partition_of(e.id)];
  }
  for (int i = 0; i < 120; ++i)
    expected.insert(2 * i);
  CHECK(outputs == expected);
  CHECK(per_partition.size() > 1); // spread over the log's partitions
  REQUIRE(wait_until([&] { return kf_runs == 120; }, 60s));

  // The dead letter, with its reason.
  raw_consumer raw{hosts.mock->bootstrap(), "g-test"};
  auto dead = raw.read("orders.dead-letter", 1);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].first == "poison");
  CHECK(dead[0].second.find("not a number") != std::string::npos);

  // Sent again (offsets set back): every start is answered, none runs.
  for (auto& f : feeds)
    f->stop();
  feeds.clear();
  raw_consumer{hosts.mock->bootstrap(), "g-orders"}.rewind("orders", 4);
  feeds.push_back(
      got(subscribe(*hosts.b, src, start_workflow(kf_order, decode), quiet())));
  all = wait_until([&] { return consumed(feeds) == kv.size(); }, 90s);
  INFO("consumed again " << consumed(feeds) << ", errors " << errors_of(feeds));
  REQUIRE(all);
  CHECK(feeds[0]->stats().started == 120);
  CHECK(got(hosts.a->try_list()).size() == 120);
  CHECK(kf_runs == 120);
  feeds.clear();
  hosts.b->stop();
  hosts.a->stop();
}

TEST_CASE("a feed signals workflows on their owners once per record, in "
          "record order, and unknown or undecodable records are dead "
          "letters") {
  two_hosts hosts{"adds"};
  std::vector<std::string> wfs;
  for (int i = 0; i < 8; ++i) {
    wfs.push_back("sig-" + std::to_string(i));
    REQUIRE(hosts.b->try_start(kf_three_signals(), wfs.back()));
  }
  // Three records per workflow (1, 10, 100): sum 111 once each; plus an
  // unknown workflow and an undecodable record.
  std::vector<std::pair<std::string, std::string>> kv;
  for (int round = 0; round < 3; ++round)
    for (auto& w : wfs)
      kv.emplace_back(w, w + ":" +
                             std::to_string(round == 0   ? 1
                                            : round == 1 ? 10
                                                         : 100));
  kv.emplace_back("x", "nobody:5");
  kv.emplace_back("y", "garbage");
  hosts.produce("adds", kv);
  auto decode = [](const kafka_record& r) {
    auto colon = r.value.find(':');
    if (colon == std::string::npos)
      throw std::invalid_argument{"no ':' in '" + r.value + "'"};
    return std::pair{r.value.substr(0, colon),
                     std::stoi(r.value.substr(colon + 1))};
  };
  auto src = hosts.source("adds", "g-adds");
  std::vector<std::unique_ptr<feed>> feeds;
  for (auto* h : {hosts.a.get(), hosts.b.get()})
    feeds.push_back(
        got(subscribe(*h, src, signal_workflows("add", decode), quiet())));
  bool all = wait_until([&] { return consumed(feeds) == kv.size(); }, 90s);
  INFO("consumed " << consumed(feeds) << ", errors " << errors_of(feeds));
  REQUIRE(all);
  for (auto& w : wfs)
    REQUIRE(wait_until(
        [&] {
          auto s = hosts.a->try_status(w);
          return s && *s == workflow_status::successful;
        },
        60s));
  for (auto& w : wfs)
    CHECK(got(hosts.a->try_output<int>(w)) == 111);
  raw_consumer raw{hosts.mock->bootstrap(), "g-test"};
  auto dead = raw.read("adds.dead-letter", 2);
  REQUIRE(dead.size() == 2);
  std::set<std::string> values{dead[0].first, dead[1].first};
  CHECK(values == std::set<std::string>{"nobody:5", "garbage"});
  for (auto& [value, reason] : dead)
    CHECK(reason.find(value == "garbage" ? "no ':'" : "not_found") !=
          std::string::npos);

  // Sent again: the keys are found in the finished workflows' signals.
  for (auto& f : feeds)
    f->stop();
  feeds.clear();
  raw_consumer{hosts.mock->bootstrap(), "g-adds"}.rewind("adds", 4);
  feeds.push_back(
      got(subscribe(*hosts.a, src, signal_workflows("add", decode), quiet())));
  all = wait_until([&] { return consumed(feeds) == kv.size(); }, 90s);
  INFO("consumed again " << consumed(feeds) << ", errors " << errors_of(feeds));
  REQUIRE(all);
  CHECK(feeds[0]->stats().started == 24); // answered ok: found, not applied
  for (auto& w : wfs)
    CHECK(got(hosts.b->try_output<int>(w)) == 111);
  feeds.clear();
  hosts.b->stop();
  hosts.a->stop();
}

TEST_CASE("a feed calls actors on their owners once per record, and a method "
          "that keeps throwing makes a dead letter after its attempts") {
  two_hosts hosts{"payments"};
  std::vector<std::pair<std::string, std::string>> kv;
  std::map<std::string, long> expected;
  for (int i = 0; i < 90; ++i) {
    auto acct = "acct-" + std::to_string(i % 9);
    kv.emplace_back(acct, std::to_string(i + 1));
    expected[acct] += i + 1;
  }
  kv.emplace_back("acct-0", "-5"); // refused by the method, 3 attempts
  hosts.produce("payments", kv);
  auto decode = [](const kafka_record& r) { return std::stol(r.value); };
  auto src = hosts.source("payments", "g-pay");
  std::vector<std::unique_ptr<feed>> feeds;
  for (auto* h : {hosts.a.get(), hosts.b.get()})
    feeds.push_back(got(
        subscribe(*h, src, actor_target(&kf_account::apply, decode), quiet())));
  bool all = wait_until([&] { return consumed(feeds) == kv.size(); }, 90s);
  INFO("consumed " << consumed(feeds) << ", errors " << errors_of(feeds));
  REQUIRE(all);
  auto check_state = [&] {
    for (auto& [acct, sum] : expected) {
      host_actor<kf_account> ref{*hosts.a, acct};
      CHECK(got(ref.try_call(&kf_account::get)) == sum);
      CHECK(got(ref.try_call(&kf_account::count)) == 10);
    }
  };
  check_state();
  raw_consumer raw{hosts.mock->bootstrap(), "g-test"};
  auto dead = raw.read("payments.dead-letter", 1);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].first == "-5");
  CHECK(dead[0].second.find("a negative amount") != std::string::npos);

  // Sent again: each call's key answers its logged result.
  for (auto& f : feeds)
    f->stop();
  feeds.clear();
  raw_consumer{hosts.mock->bootstrap(), "g-pay"}.rewind("payments", 4);
  feeds.push_back(got(subscribe(
      *hosts.b, src, actor_target(&kf_account::apply, decode), quiet())));
  all = wait_until([&] { return consumed(feeds) == kv.size(); }, 90s);
  INFO("consumed again " << consumed(feeds) << ", errors " << errors_of(feeds));
  REQUIRE(all);
  check_state();
  feeds.clear();
  hosts.b->stop();
  hosts.a->stop();
}

TEST_CASE("a feed refuses bad options before it consumes") {
  auto mock = start_mock("feed", 1);
  temp_dir dir;
  auto o = kf_options(*mock, dir / "a", "a");
  o.separator = '/';
  auto host = got(engine_host::start(std::move(o)));
  kafka_source src{
      .brokers = mock->bootstrap(), .topic = "bad", .group = "g-bad"};
  auto wf = start_workflow(kf_order);
  // Routed by '/', every "kafka/..." id would live on one partition.
  auto r = subscribe(*host, src, wf, quiet());
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::invalid_argument);
  CHECK(r.error().message().find("feed_options::route") != std::string::npos);
  auto routed = quiet();
  routed.route = [](const kafka_record& rec) { return rec.key + "/"; };
  auto f = got(subscribe(*host, src, wf, routed));
  f->stop();
  auto no_topic = src;
  no_topic.topic.clear();
  r = subscribe(*host, no_topic, wf, routed);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::invalid_argument);
  auto bad_prop = src;
  bad_prop.properties["no.such.property"] = "1";
  r = subscribe(*host, bad_prop, wf, routed);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("no.such.property") != std::string::npos);
  auto none = routed;
  none.concurrency = 0;
  r = subscribe(*host, src, wf, none);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::invalid_argument);
  host->stop();
}
