// SPDX-License-Identifier: Apache-2.0
// An engine on a cluster node's partition store (engine_options::event_log
// = node::store(p)): its workflow's steps are committed through the Kafka
// log; when the node hands the partition over, an engine on the next
// owner's store resumes the workflow from the steps the log holds, and
// the steps that succeeded do not run again; engine_host does the same on
// every claim and loss by itself. On the 3-broker mock.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/cluster/engine_host.hpp"
#include "perdure/cluster/node.hpp"

#include "http_client.hpp"
#include "node_test_util.hpp"
#include "temp_dir.hpp"

#include <array>
#include <atomic>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

std::array<std::atomic<int>, 6> ce_runs{};
step_gate ce_gate; // step 3 waits while it is closed

const auto ce_add = step("ce_add", [](int x, int k) {
  ++ce_runs[static_cast<std::size_t>(k)];
  if (k == 3)
    ce_gate.pass();
  return x + k;
});

workflow<int> ce_chain() {
  auto w = ce_add(0, 1);
  for (int k = 2; k <= 5; ++k)
    w = ce_add(w, k);
  return w;
}


bool leads(const node& n) {
  auto parts = n.partitions();
  return !parts.empty() && parts[0].role == owner_role::leader;
}

engine_options on_store(std::shared_ptr<eventlog::event_log> s) {
  engine_options o;
  o.event_log = std::move(s);
  o.actor_threads = 1;
  o.stop_timeout = std::chrono::milliseconds{200};
  return o;
}

} // namespace

TEST_CASE("a workflow on a node's partition store resumes on the next "
          "owner without running its logged steps again") {
  for (auto& r : ce_runs)
    r = 0;
  auto mock = start_mock("engines", 1);
  temp_dir dir;
  auto a = node::start(node_options_for(*mock, "engines", dir / "a", "a"));
  REQUIRE(a);
  auto b = node::start(node_options_for(*mock, "engines", dir / "b", "b"));
  REQUIRE(b);
  REQUIRE(wait_until([&] { return leads(**a) || leads(**b); }, 60s));
  node& first = leads(**a) ? **a : **b;
  node& second = leads(**a) ? **b : **a;

  ce_gate.set(true);
  {
    auto eng = engine::open(on_store(first.store(0)));
    REQUIRE_MESSAGE(eng, eng.error().to_string());
    // One engine per log.
    auto again = engine::open(on_store(first.store(0)));
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code() == errc::busy);
    auto h = (*eng)->run_async(ce_chain(), "order-1");
    REQUIRE(wait_until([] { return ce_runs[3] == 1; }, 60s));
    CHECK(ce_runs[1] == 1);
    CHECK(ce_runs[2] == 1);
    // The engine goes while step 3 runs: the workflow stays resumable.
  }
  ce_gate.set(false);
  first.stop();

  REQUIRE(wait_until([&] { return leads(second); }, 60s));
  auto store = second.store(0);
  REQUIRE(store);
  auto eng = engine::open(on_store(store));
  REQUIRE_MESSAGE(eng, eng.error().to_string());
  CHECK((*eng)->output<int>("order-1") == 15);
  CHECK((*eng)->status("order-1") == workflow_status::successful);
  CHECK(ce_runs[1] == 1);
  CHECK(ce_runs[2] == 1);
  CHECK(ce_runs[3] == 2); // abandoned on the first owner, run again
  CHECK(ce_runs[4] == 1);
  CHECK(ce_runs[5] == 1);
  // The later steps were written by the second owner.
  auto recs = store->read("order-1");
  REQUIRE(recs);
  CHECK(recs->back().writer == second.self().node);
  CHECK(recs->front().writer == first.self().node);
  // A new workflow runs through the log on the new owner.
  CHECK((*eng)->run(ce_chain(), "order-2") == 15);
  second.stop();
}

TEST_CASE("an engine on a store whose node does not lead writes nothing") {
  for (auto& r : ce_runs)
    r = 0;
  auto mock = start_mock("engines", 1);
  temp_dir dir;
  auto a = node::start(node_options_for(*mock, "engines", dir / "a", "a"));
  REQUIRE(a);
  REQUIRE(wait_until([&] { return leads(**a); }, 60s));
  auto b = node::start(node_options_for(*mock, "engines", dir / "b", "b"));
  REQUIRE(b);
  // b follows (a leads the only partition and keeps it: range assignment
  // gives the single partition to one member).
  auto eng = engine::open(on_store((*b)->store(0)));
  REQUIRE_MESSAGE(eng, eng.error().to_string());
  if (!leads(**b)) {
    auto r = (*eng)->try_run(ce_chain(), "order-x");
    REQUIRE_FALSE(r.has_value());
    INFO(r.error().to_string());
    CHECK(r.error().code() == errc::busy); // worth trying on the owner
    CHECK((*a)->store(0)->read("order-x").as_status().code()
          == errc::not_found);
  }
  eng->reset();
  CHECK_FALSE(eng->get());
  (*b)->stop();
  (*a)->stop();
}

namespace {

// The first id "order-N" that lives in partition `p`.
std::string id_in(const partition_map& map, partition_id p) {
  for (int k = 0;; ++k) {
    auto id = "order-" + std::to_string(k);
    if (map.partition_of(id) == p)
      return id;
  }
}

engine_host_options host_options(const kafka_mock_process& mock,
                                 const std::filesystem::path& dir,
                                 const std::string& id) {
  engine_host_options o;
  o.node = node_options_for(mock, "hosts", dir, id);
  o.engine = on_store(nullptr); // the host sets each engine's store
  return o;
}

} // namespace

TEST_CASE("engine hosts run each partition's engine where it is led and "
          "resume it on the next owner") {
  for (auto& r : ce_runs)
    r = 0;
  auto mock = start_mock("hosts", 2);
  temp_dir dir;
  auto bad = host_options(*mock, dir / "x", "x");
  eventlog::options plain;
  plain.dir = dir / "plain";
  auto plain_log = eventlog::event_log::open(plain);
  REQUIRE(plain_log);
  bad.engine.event_log = std::move(*plain_log);
  CHECK(engine_host::start(std::move(bad)).error().code()
        == errc::invalid_argument);
  auto a = engine_host::start(host_options(*mock, dir / "a", "a"));
  REQUIRE(a);
  auto b = engine_host::start(host_options(*mock, dir / "b", "b"));
  REQUIRE(b);
  engine_host* hosts[] = {a->get(), b->get()};
  // Every partition gets exactly one engine.
  REQUIRE(wait_until([&] {
    auto ra = (*a)->running(), rb = (*b)->running();
    return ra.size() + rb.size() == 2 && (ra.empty() || rb.empty()
                                          || ra[0] != rb[0]);
  }, 60s));
  const auto& map = (*a)->routing();
  REQUIRE(map.partitions() == 2);
  auto id0 = id_in(map, 0), id1 = id_in(map, 1);
  auto owner_of = [&](partition_id p) {
    return (*a)->engine_of(p) ? hosts[0] : hosts[1];
  };
  engine_host& first = *owner_of(0);
  engine_host& other = &first == hosts[0] ? *hosts[1] : *hosts[0];
  // The other node names the owner (once it read the claim).
  REQUIRE(wait_until([&] {
    auto r = other.engine_for(id0);
    return !r.has_value() && r.error().code() == errc::conflict;
  }, 60s));
  CHECK(other.engine_for(id0).error().message().find(
          first.cluster_node().self().node) != std::string::npos);
  // id1's partition runs a workflow where it is led.
  auto e1 = owner_of(1)->engine_for(id1);
  REQUIRE_MESSAGE(e1, e1.error().to_string());
  CHECK((*e1)->run(ce_chain(), id1) == 15);

  // id0 stops at step 3 on its owner; the owner stops cleanly.
  ce_gate.set(true);
  auto e0 = first.engine_for(id0);
  REQUIRE_MESSAGE(e0, e0.error().to_string());
  auto h = (*e0)->run_async(ce_chain(), id0);
  // Step 3 ran for id1 already: wait for id0's own (held) attempt.
  REQUIRE(wait_until([] { return ce_runs[3] == 2; }, 60s));
  first.stop(); // hands the partitions over, then closes what is left
  ce_gate.set(false);
  CHECK(first.engine_for(id0).error().code() == errc::closed);
  CHECK(first.running().empty());
  CHECK(first.counters().closed >= 1);

  // The other host takes both partitions and resumes id0 there.
  REQUIRE(wait_until([&] { return other.running().size() == 2; }, 60s));
  auto next = other.engine_for(id0);
  REQUIRE_MESSAGE(next, next.error().to_string());
  CHECK((*next)->output<int>(id0) == 15);
  CHECK(ce_runs[3] == 3); // id1; id0 abandoned by the first owner, again
  for (int k : {1, 2, 4, 5})
    CHECK(ce_runs[static_cast<std::size_t>(k)] == 2); // id1, then id0
  CHECK((*other.engine_for(id1))->output<int>(id1) == 15);
  CHECK(other.counters().opened >= 2);
  other.stop();
}

TEST_CASE("an engine host serves one /metrics: the node's partitions and "
          "every open engine's, labelled by partition") {
  auto mock = start_mock("hosts", 2);
  temp_dir dir;
  auto bad = host_options(*mock, dir / "x", "x");
  bad.engine.metrics_address = "127.0.0.1:0";
  CHECK(engine_host::start(std::move(bad)).error().code()
        == errc::invalid_argument);
  auto o = host_options(*mock, dir / "a", "a");
  o.metrics_address = "127.0.0.1:0";
  auto a = engine_host::start(std::move(o));
  REQUIRE_MESSAGE(a, a.error().to_string());
  REQUIRE((*a)->metrics_port());
  REQUIRE(wait_until([&] { return (*a)->running().size() == 2; }, 60s));
  auto id0 = id_in((*a)->routing(), 0);
  CHECK((*(*a)->engine_for(id0))->run(ce_chain(), id0) == 15);
  // A partition's engine stores only its partition's ids.
  auto id1 = id_in((*a)->routing(), 1);
  auto wrong = (*a)->engine_of(0)->try_run(ce_chain(), id1);
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().code() == errc::conflict);
  CHECK(wrong.error().message().find("lives in partition 1, not in 0")
        != std::string::npos);
  CHECK((*a)->engine_of(0)->try_status(id1).error().code()
        == errc::not_found);
  auto drawn = (*a)->engine_of(0)->run_async(ce_chain());
  CHECK((*a)->routing().partition_of(drawn.id()) == 0);
  CHECK(drawn.get() == 15);
  // The apply lag: known once a fetch answer came, 0 once applied.
  REQUIRE(wait_until([&] {
    auto s = (*a)->cluster_node().partitions().at(0);
    return s.log_end.has_value() && *s.log_end == s.next && s.next > 0;
  }, 60s));
  auto r = scrape(*(*a)->metrics_port());
  REQUIRE(r.code == 200);
  for (const char* line :
       {"perdure_cluster_partition_leader{partition=\"0\"} 1",
        "perdure_cluster_partition_leader{partition=\"1\"} 1",
        "perdure_cluster_partition_tailing{partition=\"1\"} 1",
        "perdure_cluster_engines_opened_total 2",
        "perdure_cluster_partition_apply_lag{partition=\"0\"} 0",
        "perdure_cluster_assignments_total 2"})
    CHECK_MESSAGE(r.body.find(line) != std::string::npos, line);
  // The engines' families once each, their series per partition.
  auto family = std::string{"# TYPE perdure_steps_started_total"};
  auto first = r.body.find(family);
  REQUIRE(first != std::string::npos);
  CHECK(r.body.find(family, first + 1) == std::string::npos);
  CHECK(r.body.find("perdure_steps_started_total{partition=\"0\"} 10")
        != std::string::npos);
  CHECK(r.body.find("perdure_steps_started_total{partition=\"1\"} 0")
        != std::string::npos);
  (*a)->stop();
  CHECK(scrape(*(*a)->metrics_port()).code == 0); // no longer served
}
