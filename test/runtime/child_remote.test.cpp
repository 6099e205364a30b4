// SPDX-License-Identifier: Apache-2.0
// engine_options::remote: a child whose id lives elsewhere is recorded in
// the parent's children stream first (the outbox entry), then started and
// followed through the interface; transient errors are tried again, a
// conflict fails the node, a cancel reaches the child. Two engines in one
// process: ids starting with 'r' live in the second one (a fake of the
// cluster's engine_host, test/cluster/cluster_children.test.cpp has the
// real one).

#include "perdure/eventlog/records/child.hpp"
#include "perdure/runtime/graph_bytes.hpp"
#include "perdure/runtime/remote_workflows.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <algorithm>
#include <atomic>
#include <doctest/doctest.h>
#include <mutex>
#include <perdure/perdure.hpp>
#include <string>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

std::atomic<int> cr_runs{0};

const auto cr_triple = step("cr_triple", [](int x) {
  ++cr_runs;
  return 3 * x;
});

const auto cr_add = step("cr_add", [](int a, int b) { return a + b; });

bool far(std::string_view id) {
  return !id.empty() && id.front() == 'r';
}

// The other side: engine `there`, reached with `busy_left` busy answers
// first (each member call takes one), and what it saw.
class fake_remote final : public remote_workflows {
 public:
  explicit fake_remote(engine& there)
      : there_(there) {}

  engine* parent_engine = nullptr; ///< where the outbox entry must be
  std::atomic<int> busy_left{0};
  std::atomic<int> starts{0}, cancels{0};
  std::atomic<bool> unrecorded_start{false}; ///< a start before its record

  bool elsewhere(std::string_view id) const override {
    return far(id);
  }
  perdure::status start_child(const std::string& id, const std::string& graph,
                              const std::string& parent,
                              const std::string& step) override {
    if (busy())
      return {errc::busy, "the other side is busy"};
    ++starts;
    auto kids = records::read_children(*parent_engine->event_log(), parent);
    if (!kids || std::none_of(kids->begin(), kids->end(), [&](auto& c) {
          return c.child == id && c.step == step;
        }))
      unrecorded_start = true;
    auto root = decode_workflow_graph(graph);
    if (!root)
      return root.error();
    if (auto st = there_.try_status(id); st) {
      auto m = there_.try_metadata(id);
      if (!m || m->user_metadata[records::parent_key] != parent)
        return {errc::conflict, "'" + id + "' is not a child of " + parent};
      return {};
    }
    std::vector<new_run> runs(1);
    runs[0].root = std::move(*root);
    runs[0].id = id;
    runs[0].opts.metadata = {{records::parent_key, parent},
                             {records::parent_step_key, step}};
    auto r =
        there_.submit_batch(std::move(runs), [](eventlog::write_batch&) {});
    return r ? perdure::status{} : r.error();
  }
  result<workflow_status> status(const std::string& id) override {
    if (busy())
      return unexpected{errc::timeout, "no answer"};
    return there_.try_status(id);
  }
  result<std::string> output_bytes(const std::string& id) override {
    return there_.output_bytes(id, {});
  }
  result<std::string> failure(const std::string& id) override {
    auto m = there_.try_metadata(id);
    if (!m)
      return m.error();
    return m->error_text;
  }
  perdure::status cancel(const std::string& id) override {
    ++cancels;
    return there_.try_cancel(id);
  }
  perdure::status resume(const std::string& id) override {
    auto h = there_.try_resume(id);
    return h ? perdure::status{} : h.error();
  }

 private:
  bool busy() {
    for (int n = busy_left.load(); n > 0;)
      if (busy_left.compare_exchange_weak(n, n - 1))
        return true;
    return false;
  }
  engine& there_;
};

struct two_engines {
  test::temp_dir dir;
  engine there{{.storage = dir / "there"}};
  std::shared_ptr<fake_remote> remote = std::make_shared<fake_remote>(there);
  std::unique_ptr<engine> here;

  two_engines() {
    engine_options o;
    o.storage = dir / "here";
    o.remote = remote;
    o.accept_id = [](std::string_view id) -> perdure::status {
      if (far(id))
        return {errc::conflict, "'" + std::string{id} + "' lives elsewhere"};
      return {};
    };
    here = std::make_unique<engine>(std::move(o));
    remote->parent_engine = here.get();
  }
};

} // namespace

TEST_CASE("a child that lives elsewhere is recorded in its parent's log "
          "first, started there once, and its output reaches the parent") {
  two_engines f;
  cr_runs = 0;
  f.remote->busy_left = 5; // starts and looks answered busy, then served
  auto wf = cr_add(child(cr_triple(4), "r-1"), child(cr_triple(1), "l-1"));
  CHECK(f.here->run(wf, "p-1") == 15);
  CHECK(cr_runs == 2);
  CHECK(f.remote->busy_left == 0);
  CHECK(f.remote->starts == 1);
  CHECK_FALSE(f.remote->unrecorded_start);
  CHECK(f.there.output<int>("r-1") == 12);
  CHECK(f.there.metadata("r-1").user_metadata.at(records::parent_step_key) ==
        "child:r-1");
  CHECK(f.here->try_status("r-1").error().code() == errc::not_found);
  CHECK(f.here->output<int>("l-1") == 3); // the local one stays here
  auto kids = records::read_children(*f.here->event_log(), "p-1");
  REQUIRE(kids);
  CHECK(kids->size() == 2);
}

TEST_CASE("a remote child's failure, a conflict and a cancel reach the "
          "parent's node") {
  two_engines f;
  // Another workflow holds the id there: the node fails with conflict.
  CHECK(f.there.run(cr_triple(2), "r-taken") == 6);
  auto clash =
      f.here->try_run(cr_add(child(cr_triple(1), "r-taken"), 1), "p-clash");
  REQUIRE_FALSE(clash);
  CHECK(clash.error().message().find("is not a child of") != std::string::npos);
  CHECK(f.there.output<int>("r-taken") == 6);

  // The parent canceled: its remote child is asked to cancel.
  auto wf = cr_add(child(cr_add(wait_for_signal<int>("go"), 1), "r-wait"), 1);
  auto h = f.here->run_async(wf, "p-wait");
  REQUIRE(wait_until(
      [&] {
        auto s = f.there.try_status("r-wait");
        return s && *s == workflow_status::running;
      },
      30s));
  f.here->cancel("p-wait");
  // At least once: when the child's start is answered after the parent's
  // cancel read the children, the waiting node asks again (both idempotent).
  CHECK(f.remote->cancels >= 1);
  CHECK(f.there.status("r-wait") == workflow_status::canceled);
  CHECK(f.here->status("p-wait") == workflow_status::canceled);
}
