// SPDX-License-Identifier: Apache-2.0
// An engine on a cluster node's partition store (engine_options::event_log
// = node::store(p)): its workflow's steps are committed through the Kafka
// log; when the node hands the partition over, an engine on the next
// owner's store resumes the workflow from the steps the log holds, and
// the steps that succeeded do not run again. On the 3-broker mock.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/cluster/node.hpp"

#include "node_test_util.hpp"
#include "temp_dir.hpp"

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

std::array<std::atomic<int>, 6> ce_runs{};
std::mutex ce_mu;
std::condition_variable ce_cv;
bool ce_hold = false; // step 3 waits while set

const auto ce_add = step("ce_add", [](int x, int k) {
  ++ce_runs[static_cast<std::size_t>(k)];
  if (k == 3) {
    std::unique_lock lock{ce_mu};
    ce_cv.wait(lock, [] { return !ce_hold; });
  }
  return x + k;
});

workflow<int> ce_chain() {
  auto w = ce_add(0, 1);
  for (int k = 2; k <= 5; ++k)
    w = ce_add(w, k);
  return w;
}

void hold_step3(bool on) {
  {
    std::lock_guard lock{ce_mu};
    ce_hold = on;
  }
  ce_cv.notify_all();
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

  hold_step3(true);
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
  hold_step3(false);
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
    CHECK(r.error().code() == errc::conflict);
    CHECK((*a)->store(0)->read("order-x").as_status().code()
          == errc::not_found);
  }
  eng->reset();
  CHECK_FALSE(eng->get());
  (*b)->stop();
  (*a)->stop();
}
