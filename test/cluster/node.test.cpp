// SPDX-License-Identifier: Apache-2.0
// cluster::node on the 3-broker mock: bad options, one node leading every
// partition, groups applied, a clean stop handing the partitions over, a
// node that leaves serving its partitions until they are claimed, a slow
// claim reported.

#include <doctest/doctest.h>

#include "perdure/cluster/node.hpp"

#include "node_test_util.hpp"
#include "temp_dir.hpp"

#include <future>
#include <mutex>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {


bool leads_all(const node& n) {
  auto parts = n.partitions();
  for (auto& p : parts)
    if (p.role != owner_role::leader)
      return false;
  return !parts.empty();
}

std::string group(std::string text) {
  eventlog::write_batch b;
  b.append("s", 1, std::move(text));
  std::vector<eventlog::write_batch> v;
  v.push_back(std::move(b));
  return encode_group_bytes(1, v);
}

result<log_offset> submit_wait(node& n, partition_id p, std::string bytes) {
  auto done = std::make_shared<std::promise<result<log_offset>>>();
  auto f = done->get_future();
  n.submit(p, std::move(bytes),
           [done](result<log_offset> r) { done->set_value(std::move(r)); });
  if (f.wait_for(120s) != std::future_status::ready)
    return unexpected{errc::timeout, "no answer in 120 s"};
  return f.get();
}

} // namespace

TEST_CASE("a node refuses bad options before it connects") {
  node_options o;
  o.log.brokers = "127.0.0.1:1";
  o.log.app = "x";
  o.store.dir = "/nonexistent-perdure-node-test";
  auto code = [](const node_options& opts) {
    auto n = node::start(opts);
    return n ? errc::ok : n.error().code();
  };
  CHECK(code(o) == errc::invalid_argument); // no node id
  o.node_id = "a";
  auto bad = o;
  bad.group_properties = {{"group.id", "mine"}};
  CHECK(code(bad) == errc::invalid_argument);
  bad.group_properties = {{"enable.auto.commit", "true"}};
  CHECK(code(bad) == errc::invalid_argument);
  bad = o;
  bad.store.dir.clear();
  CHECK(code(bad) == errc::invalid_argument);
}

TEST_CASE("a node refuses a log topic that falls short of its needs") {
  auto mock = start_mock("needs", 2); // 3 replicas per partition
  temp_dir dir;
  auto o = node_options_for(*mock, "needs", dir / "a", "a");
  o.topic_needs->min_replication_factor = 4;
  o.topic_needs->partitions = 5;
  auto n = node::start(o);
  REQUIRE_FALSE(n.has_value());
  CHECK(n.error().code() == errc::invalid_argument);
  const auto& m = n.error().message();
  CHECK(m.find("replication") != std::string::npos);
  CHECK(m.find("5") != std::string::npos); // the partition count needed
  CHECK_FALSE(std::filesystem::exists(dir / "a" / "p-0000"));
  // The production default fits the mock's topic (configs unverified).
  o.topic_needs = kafka_durability_needs{.require_configs = false};
  auto ok = node::start(o);
  REQUIRE_MESSAGE(ok, ok.error().to_string());
  (*ok)->stop();
  // Configs required but not described (the mock answers no
  // DescribeConfigs): refused, naming why.
  o.topic_needs->require_configs = true;
  auto strict = node::start(o);
  REQUIRE_FALSE(strict.has_value());
  CHECK(strict.error().code() == errc::invalid_argument);
}

TEST_CASE("a node leads every partition alone and hands them over on stop") {
  auto mock = start_mock("nodes", 2);
  temp_dir dir;
  auto a = node::start(node_options_for(*mock, "nodes", dir / "a", "a"));
  REQUIRE(a);
  REQUIRE(wait_until([&] { return leads_all(**a); }, 60s));
  auto first = submit_wait(**a, 1, group("one"));
  REQUIRE(first);
  // The answer comes once applied; the state is published after that
  // poll round.
  CHECK(wait_until([&] { return (*a)->partitions()[1].next > *first; },
                   60s));
  auto parts = (*a)->partitions();
  CHECK(parts[1].assigned);
  CHECK(parts[1].owner == (*a)->self());
  CHECK(submit_wait(**a, 2, group("x")).error() == errc::invalid_argument);
  CHECK(submit_wait(**a, 0, "").error() == errc::invalid_argument);
  // A second node follows as a standby, then takes over when a leaves.
  auto b = node::start(node_options_for(*mock, "nodes", dir / "b", "b"));
  REQUIRE(b);
  REQUIRE(wait_until([&] {
    auto pb = (*b)->partitions();
    return !pb.empty() && pb[1].next > *first;
  }, 60s));
  (*a)->stop();
  auto late = submit_wait(**a, 0, group("late"));
  REQUIRE_FALSE(late.has_value());
  CHECK_MESSAGE(late.error() == errc::closed, late.error().message());
  // Still the log's count: stop() cleared the owners, not the count (it
  // was read from them, racing with submit() on another thread).
  CHECK((*a)->partition_count() == 2);
  REQUIRE(wait_until([&] { return leads_all(**b); }, 60s));
  auto second = submit_wait(**b, 1, group("two"));
  REQUIRE(second);
  CHECK(*second > *first);
  auto c = (*b)->counters();
  CHECK(c.owners.led >= 2);
  CHECK(c.assigned >= 2);
  CHECK(c.submitted == 1);
}

TEST_CASE("a node that leaves serves its partitions until the next owner "
          "claims them") {
  auto mock = start_mock("leave", 2);
  temp_dir dir;
  std::mutex mu;
  std::vector<partition_status> seen; // a's changes
  auto oa = node_options_for(*mock, "leave", dir / "a", "a");
  oa.on_change = [&](const partition_status& s) {
    std::lock_guard guard{mu};
    seen.push_back(s);
  };
  auto a = node::start(std::move(oa));
  REQUIRE(a);
  REQUIRE(wait_until([&] { return leads_all(**a); }, 60s));
  REQUIRE(submit_wait(**a, 0, group("before")));
  auto b = node::start(node_options_for(*mock, "leave", dir / "b", "b"));
  REQUIRE(b);
  (*a)->leave();
  (*a)->leave(); // idempotent
  REQUIRE(wait_until([&] { return leads_all(**b); }, 60s));
  REQUIRE(wait_until([&] {
    auto pa = (*a)->partitions();
    return pa[0].owner.node == "b" && pa[1].owner.node == "b";
  }, 60s));
  // a led each partition until it read b's claim: the change that ended
  // its lead already names b (a release would show a follower of a).
  {
    std::lock_guard guard{mu};
    for (partition_id p : {0u, 1u}) {
      bool led = false, ended = false;
      for (auto& s : seen) {
        if (s.partition != p)
          continue;
        if (s.role == owner_role::leader && s.owner.node == "a")
          led = true;
        else if (led && !ended && s.role != owner_role::leader) {
          ended = true;
          CHECK_MESSAGE(s.owner.node == "b",
                        "partition ", p, " stopped being led by a under "
                        "owner ", to_string(s.owner));
        }
      }
      CHECK(led);
      CHECK(ended);
    }
  }
  // Fenced: a's writes now fail busy, b's succeed.
  auto late = submit_wait(**a, 1, group("late"));
  REQUIRE_FALSE(late.has_value());
  CHECK_MESSAGE(late.error() == errc::busy, late.error().message());
  CHECK(submit_wait(**b, 1, group("after")));
  (*a)->stop();
  (*b)->stop();
}

TEST_CASE("a node reports a claim not read back within claim_warn, once") {
  // Partition 1's leader answers every request after 1 s: its claim is
  // read back late, which is reported once, as a warning naming it
  // (node_options::claim_warn).
  auto mock = start_mock("slow", 2);
  auto topic = kafka_log_topic("slow");
  REQUIRE(mock->command("leader " + topic + " 0 1") == "ok");
  REQUIRE(mock->command("leader " + topic + " 1 2") == "ok");
  REQUIRE(mock->command("rtt 2 1000") == "ok");
  temp_dir dir;
  std::mutex mu;
  std::vector<std::string> warnings;
  auto o = node_options_for(*mock, "slow", dir / "a", "a");
  o.claim_warn = 500ms;
  o.log.log = [&](eventlog::log_level l, std::string_view text) {
    if (l < eventlog::log_level::warning)
      return;
    std::lock_guard guard{mu};
    warnings.emplace_back(text);
  };
  auto a = node::start(std::move(o));
  REQUIRE(a);
  CHECK(wait_until([&] { return leads_all(**a); }, 60s));
  CHECK(submit_wait(**a, 1, group("slow but led")));
  std::lock_guard guard{mu};
  int slow_claims = 0;
  for (auto& w : warnings) {
    MESSAGE(w);
    if (w.find("partition 1: ") != std::string::npos
        && w.find("for over 500 ms") != std::string::npos)
      ++slow_claims;
  }
  CHECK(slow_claims == 1);
}

TEST_CASE("a node that is no standby reads only the claims, and replays "
          "what it skipped before it claims") {
  auto mock = start_mock("standby", 2);
  temp_dir dir;
  auto options = [&](const std::string& id) {
    auto o = node_options_for(*mock, "standby", dir / id, id);
    o.standby_replicas = 0; // the owner alone applies a partition
    return o;
  };
  auto a = node::start(options("a"));
  REQUIRE(a);
  REQUIRE(wait_until([&] { return leads_all(**a); }, 60s));
  auto b = node::start(options("b"));
  REQUIRE(b);
  // The group gives b one partition; a keeps the other.
  partition_id kept = 0;
  REQUIRE(wait_until([&] {
    auto pb = (*b)->partitions();
    for (auto& s : pb)
      if (s.role == owner_role::leader) {
        kept = s.partition == 0 ? 1 : 0;
        return pb[kept].owner.node == "a";
      }
    return false;
  }, 60s));
  auto at = submit_wait(**a, kept, group("kept by a"));
  REQUIRE(at);
  // b follows who owns `kept` (its view names a and a's door) but does
  // not apply it: its store stays where it was.
  REQUIRE(wait_until([&] {
    auto s = (*b)->partitions()[kept];
    return !s.tailing && s.owner.node == "a" && s.log_end
           && *s.log_end > *at;
  }, 60s));
  auto skipped = (*b)->partitions()[kept];
  CHECK(skipped.next <= *at);
  CHECK(skipped.role == owner_role::follower);
  CHECK((*a)->partitions()[kept].tailing);
  // a stops: b is assigned `kept`, replays it, claims and leads; its
  // store then holds what a wrote.
  (*a)->stop();
  REQUIRE(wait_until([&] { return leads_all(**b); }, 60s));
  auto now = (*b)->partitions()[kept];
  CHECK(now.tailing);
  CHECK(now.next > *at);
  auto held = (*b)->store(kept)->read("s");
  REQUIRE(held);
  bool found = false;
  for (auto& r : *held)
    found = found || r.payload == "kept by a";
  CHECK(found);
  (*b)->stop();
}
