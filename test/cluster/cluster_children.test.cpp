// SPDX-License-Identifier: Apache-2.0
// Child workflows of another partition (engine_options::remote, set by
// engine_host): the parent's log names the child first, the child's owner
// stores it once by its id, and the parent follows it there: outputs,
// failures, cancels and a parent whose owner changed. Two hosts on the
// 3-broker mock, two partitions, one led by each.

#include "node_test_util.hpp"
#include "two_partitions.hpp"
#include "perdure/cluster/engine_host.hpp"
#include "perdure/eventlog/records/child.hpp"
#include "temp_dir.hpp"

#include <array>
#include <atomic>
#include <doctest/doctest.h>
#include <perdure/perdure.hpp>
#include <string>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

std::array<std::atomic<int>, 3> kc_runs{};
step_gate kc_gate; // kc_held waits while it is closed

const auto kc_double = step("kc_double", [](int x) {
  ++kc_runs[0];
  return 2 * x;
});

const auto kc_held = step("kc_held", [](int x) {
  ++kc_runs[1];
  kc_gate.pass();
  return x + 1;
});

const auto kc_fail = step("kc_fail",
                          [](int) -> int {
                            ++kc_runs[2];
                            throw std::runtime_error{"no stock left"};
                          },
                          {.max_attempts = 1});

const auto kc_add = step("kc_add", [](int a, int b) { return a + b; });

engine_host_options kc_options(const kafka_mock_process& mock,
                               const std::filesystem::path& dir,
                               const std::string& id) {
  engine_host_options o;
  o.node = node_options_for(mock, "kids", dir, id);
  o.engine.actor_threads = 1;
  o.engine.stop_timeout = std::chrono::milliseconds{200};
  o.serve_address = "127.0.0.1:0";
  return o;
}

template <class R> auto got(R r) {
  REQUIRE_MESSAGE(r, r.error().to_string());
  return std::move(r).value();
}

// Hosts a and b lead one partition each.
struct kc_hosts : two_partitions {
  kc_hosts() : two_partitions("kids", kc_options) {}
};

std::vector<records::child_started> children_of(engine_host& h,
                                                const std::string& parent) {
  auto eng = got(h.engine_for(parent));
  return got(records::read_children(*eng->event_log(), parent));
}

} // namespace

TEST_CASE("a child workflow of another partition runs once on its owner "
          "and its output reaches the parent") {
  for (auto& r : kc_runs)
    r = 0;
  kc_hosts f;
  const auto& map = f.a->routing();
  auto parent = id_in(map, f.pa, "order-");
  auto far = id_in(map, f.pb, "pay-");
  auto near = id_in(map, f.pa, "pay-");
  auto wf = [&] {
    return kc_add(child(kc_double(20), far), child(kc_double(1), near));
  };
  CHECK(got(f.a->try_run(wf(), parent)) == 42);
  CHECK(kc_runs[0] == 2);
  // The far child is stored on b's partition, linked to its parent; the
  // parent's children stream names both (the far one recorded first).
  auto eb = got(f.b->engine_for(far));
  CHECK(eb->status(far) == workflow_status::successful);
  CHECK(eb->output<int>(far) == 40);
  auto m = eb->metadata(far);
  CHECK(m.user_metadata.at(records::parent_key) == parent);
  CHECK(m.user_metadata.at(records::parent_step_key) == "child:" + far);
  CHECK(got(f.a->engine_for(near))->output<int>(near) == 2);
  auto kids = children_of(*f.a, parent);
  REQUIRE(kids.size() == 2);
  CHECK(std::count_if(kids.begin(), kids.end(),
                      [&](auto& c) { return c.child == far; }) == 1);
  // Run again by its id, through the other node: the stored output, no
  // child runs again.
  CHECK(got(f.b->try_run(wf(), parent)) == 42);
  CHECK(kc_runs[0] == 2);

  // A parent on b with a child on a: the same both ways.
  auto parent_b = id_in(map, f.pb, "order-");
  auto far_b = id_in(map, f.pa, "pay-", 1);
  CHECK(got(f.a->try_run(kc_add(child(kc_double(5), far_b), 1), parent_b)) ==
        11);
  CHECK(got(f.a->engine_for(far_b))->output<int>(far_b) == 10);
  CHECK(kc_runs[0] == 3);
  f.b->stop();
  f.a->stop();
}

TEST_CASE("a remote child's failure and cancel reach its parent, and an id "
          "that is another workflow is a conflict") {
  for (auto& r : kc_runs)
    r = 0;
  kc_hosts f;
  const auto& map = f.a->routing();

  // The child failed: the parent's node fails with the child's reason.
  auto parent = id_in(map, f.pa, "fail-");
  auto far = id_in(map, f.pb, "stock-");
  auto out = f.a->try_run(kc_add(child(kc_fail(1), far), 1), parent);
  REQUIRE_FALSE(out);
  CHECK(out.error().message().find("no stock left") != std::string::npos);
  CHECK(out.error().message().find(far) != std::string::npos);
  CHECK(kc_runs[2] == 1);
  CHECK(got(f.b->try_status(far)) == workflow_status::failed);

  // A canceled parent cancels its children where they live (asked side by
  // side).
  auto waiting = id_in(map, f.pa, "wait-");
  auto far_wait = id_in(map, f.pb, "signal-");
  auto far_wait2 = id_in(map, f.pb, "signal-", 1);
  auto wf = kc_add(child(kc_add(wait_for_signal<int>("go"), 1), far_wait),
                   child(kc_add(wait_for_signal<int>("go"), 2), far_wait2));
  REQUIRE(f.a->try_start(wf, waiting));
  REQUIRE(wait_until(
      [&] {
        for (auto& id : {far_wait, far_wait2}) {
          auto s = f.a->try_status(id);
          if (!s || *s != workflow_status::running)
            return false;
        }
        return true;
      },
      60s));
  REQUIRE(f.a->try_cancel(waiting));
  CHECK(got(f.a->try_status(waiting)) == workflow_status::canceled);
  CHECK(got(f.b->try_status(far_wait)) == workflow_status::canceled);
  CHECK(got(f.b->try_status(far_wait2)) == workflow_status::canceled);

  // An id stored as a workflow of its own is no child of this parent.
  auto plain = id_in(map, f.pb, "plain-");
  CHECK(got(f.b->try_run(kc_double(4), plain)) == 8);
  auto clash = f.a->try_run(kc_add(child(kc_double(7), plain), 1),
                            id_in(map, f.pa, "clash-"));
  REQUIRE_FALSE(clash);
  CHECK(clash.error().message().find("is not a child of") != std::string::npos);
  CHECK(got(f.b->try_output<int>(plain)) == 8); // left as it was
  f.b->stop();
  f.a->stop();
}

TEST_CASE("a parent whose owner stops follows its remote child from the "
          "next owner, and the child runs once") {
  for (auto& r : kc_runs)
    r = 0;
  kc_hosts f;
  const auto& map = f.a->routing();
  auto parent = id_in(map, f.pa, "moved-");
  auto far = id_in(map, f.pb, "held-");
  kc_gate.set(true);
  REQUIRE(f.b->try_start(kc_add(child(kc_held(1), far), 10), parent));
  REQUIRE(wait_until([] { return kc_runs[1] == 1; }, 60s));
  // The parent's owner stops cleanly: b takes its partition and resumes
  // the parent, which finds its child recorded and follows it (b leads
  // both partitions now: the request stays on b).
  f.a->stop();
  REQUIRE(wait_until([&] { return f.b->running().size() == 2; }, 90s));
  kc_gate.set(false);
  REQUIRE(wait_until(
      [&] {
        auto s = f.b->try_status(parent);
        return s && *s == workflow_status::successful;
      },
      60s));
  CHECK(got(f.b->try_output<int>(parent)) == 12);
  CHECK(kc_runs[1] == 1);
  CHECK(children_of(*f.b, parent).size() == 1);
  f.b->stop();
}
