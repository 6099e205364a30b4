// SPDX-License-Identifier: Apache-2.0
// workflow_run as a state machine, without CAF, threads or sleeps: a fake
// clock, a fake log (the plans' appends kept as records) and the test
// choosing when each dispatched attempt returns and what it returns. The
// graph semantics the SIGKILL tests check end to end are pinned here one
// event at a time: what each event logs, what it starts, and what a replay
// of the log resumes.

#include "workflow_run.hpp"

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include <deque>
#include <stdexcept>

using namespace perdure;
using namespace perdure::detail;
using kind = records::record_kind;

namespace {

const auto wr_inc = step("wr_inc", [](int x) { return x + 1; });
const auto wr_sum = step("wr_sum", [](std::vector<int> v) {
  int s = 0;
  for (int x : v)
    s += x;
  return s;
});
const auto wr_fail = step(
  "wr_fail", [](int) -> int { throw std::runtime_error("boom"); },
  {.max_attempts = 3, .retry_backoff = std::chrono::milliseconds{10}});
// A dynamic step: continues with the sum of inc(0..n-1).
const auto wr_split = step("wr_split", [](int n) {
  std::vector<workflow<int>> parts;
  for (int i = 0; i < n; ++i)
    parts.push_back(wr_inc(i));
  return wr_sum(parts);
});

// A dynamic step whose sub-graph holds a step needing more cpus than any
// engine of these tests has (4).
const auto wr_big = step("wr_big", [](int x) { return x; },
                         {.resources = {.cpus = 8}});
const auto wr_split_big = step(
  "wr_split_big",
  [](int n) { return wr_sum(std::vector{wr_inc(n), wr_big(n)}); },
  {.max_attempts = 1});

outcome value_of(int v) {
  outcome o;
  o.what = outcome::kind::value;
  o.bytes = codec::encode(v);
  return o;
}

struct no_blobs : blob_source {
  status with_blob(std::string_view,
                   const std::function<void(std::string_view)>&) override {
    return {errc::not_found, "no blobs in this test"};
  }
};

// One workflow driven by hand: every plan is "committed" at once into
// `log` (its records) and its dispatches queue up in `ready`.
struct sim {
  time_ns now = 1'000'000'000'000;
  std::unique_ptr<workflow_run> run;
  std::vector<eventlog::record> log;
  std::deque<dispatch> ready;
  std::vector<kind> last_kinds; // what the last plan appended
  bool last_ends = false;
  no_blobs blobs;

  void attach(std::unique_ptr<workflow_run> r) {
    run = std::move(r);
    run->set_clock([this] { return now; });
  }
  static sim create(const std::shared_ptr<node>& root) {
    sim s;
    auto r = workflow_run::create("w", root, {}, resources{.cpus = 4});
    REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
    s.attach(std::move(*r));
    return s;
  }
  void commit(plan& p) {
    last_kinds.clear();
    for (auto& op : p.batch.ops()) {
      if (op.what != eventlog::write_batch::op::type::append)
        continue;
      REQUIRE(op.stream == "w");
      eventlog::record r;
      r.seq = log.size() + 1;
      r.kind = static_cast<std::uint16_t>(op.number);
      r.time = now;
      r.payload = op.data;
      log.push_back(std::move(r));
      last_kinds.push_back(static_cast<kind>(op.number));
    }
    run->advance(p.batch.record_count());
    last_ends = p.ends;
    for (auto& d : p.dispatches)
      ready.push_back(d);
  }
  void begin() {
    plan p;
    run->begin(p);
    commit(p);
  }
  dispatch take() {
    REQUIRE_FALSE(ready.empty());
    auto d = ready.front();
    ready.pop_front();
    return d;
  }
  void result(dispatch d, outcome out) {
    ++now;
    plan p;
    run->on_result(d.node, d.attempt, std::move(out), {}, p);
    commit(p);
  }
  // Runs the attempt's body for real (on this thread) and hands it back.
  void complete(dispatch d) {
    auto in = run->inputs_of(d.node, blobs);
    REQUIRE(in.has_value());
    result(d, run->at(d.node).def->invoke(*in));
  }
  void drain() {
    while (!ready.empty())
      complete(take());
  }
  int output() const {
    auto& out = run->at(run->root()).output;
    REQUIRE(out);
    return *codec::decode<int>(*out);
  }
  // A new run rebuilt from the log, as after a crash.
  sim replayed() const {
    sim s;
    s.log = log;
    s.now = now + 1000;
    auto r = workflow_run::replay("w", log, resources{.cpus = 4});
    REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
    s.attach(std::move(*r));
    REQUIRE(s.run->check_code());
    return s;
  }
};

} // namespace

TEST_CASE("workflow_run: a chain starts each step only with its predecessor's result in the same batch") {
  auto s = sim::create(wr_inc(wr_inc(wr_inc(0))).node());
  s.begin();
  CHECK(s.last_kinds
        == std::vector<kind>{kind::workflow_submitted, kind::step_started});
  for (int step = 0; step < 3; ++step) {
    REQUIRE(s.ready.size() == 1); // one at a time
    auto d = s.take();
    CHECK(d.attempt == 1);
    CHECK(d.delay.count() == 0);
    s.complete(d);
    if (step < 2)
      CHECK(s.last_kinds
            == std::vector<kind>{kind::step_succeeded, kind::step_started});
  }
  CHECK(s.last_kinds
        == std::vector<kind>{kind::step_succeeded, kind::workflow_succeeded});
  CHECK(s.last_ends);
  CHECK(s.run->end() == run_end::succeeded);
  CHECK(s.run->stored_status() == "successful");
  CHECK(s.output() == 3);
  CHECK(s.run->last_seq() == s.log.size());
  // Times come from the run's clock.
  auto m = s.run->metadata(workflow_status::successful);
  CHECK(*m.start == 1'000'000'000'000);
  CHECK(*m.end == 1'000'000'000'003);
  CHECK(m.steps_succeeded == 3);
}

TEST_CASE("workflow_run: parallel steps start in one batch and the join waits for the last, in any order") {
  std::vector<workflow<int>> parts;
  for (int i = 0; i < 5; ++i)
    parts.push_back(wr_inc(i * 10));
  auto s = sim::create(wr_sum(parts).node());
  s.begin();
  REQUIRE(s.ready.size() == 5);
  std::vector<dispatch> ds(s.ready.rbegin(), s.ready.rend());
  s.ready.clear();
  for (std::size_t k = 0; k < ds.size(); ++k) {
    s.complete(ds[k]); // last first
    CHECK(s.ready.size() == (k + 1 < ds.size() ? 0u : 1u));
  }
  s.drain();
  CHECK(s.output() == 0 + 10 + 20 + 30 + 40 + 5);
}

TEST_CASE("workflow_run: a wide join waits for each distinct producer once, however often it is named") {
  // 40 producers, each named twice in the join's list: past the few
  // inputs counted without a set.
  constexpr int width = 40;
  std::vector<workflow<int>> parts;
  for (int i = 0; i < width; ++i)
    parts.push_back(wr_inc(i));
  auto named = parts;
  named.insert(named.end(), parts.begin(), parts.end());
  auto s = sim::create(wr_sum(named).node());
  CHECK(s.run->at(s.run->root()).inputs.size() == std::size_t{width});
  s.begin();
  REQUIRE(s.ready.size() == std::size_t{width}); // each producer once
  std::vector<dispatch> ds(s.ready.begin(), s.ready.end());
  s.ready.clear();
  for (std::size_t k = 0; k < ds.size(); ++k) {
    s.complete(ds[k]);
    CHECK(s.ready.size() == (k + 1 < ds.size() ? 0u : 1u)); // the join
  }
  s.drain();
  CHECK(s.ready.empty());
  // sum of (i + 1) over 0..39, twice
  CHECK(s.output() == 2 * (width * (width + 1) / 2));
}

TEST_CASE("workflow_run: a failing step is retried with growing backoff, then fails the workflow") {
  auto s = sim::create(wr_inc(wr_fail(1)).node());
  s.begin();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto d = s.take();
    CHECK(d.attempt == attempt);
    CHECK(d.delay.count() == (attempt == 1 ? 0 : 10 << (attempt - 2)));
    s.complete(d); // throws "boom"
    if (attempt < 3)
      CHECK(s.last_kinds
            == std::vector<kind>{kind::step_failed, kind::step_started});
  }
  CHECK(s.last_kinds
        == std::vector<kind>{kind::step_failed, kind::workflow_failed});
  CHECK(s.ready.empty()); // its consumer never starts
  CHECK(s.run->end() == run_end::failed);
  CHECK(s.run->end_status().code() == errc::failed);
  CHECK(s.run->end_status().message().find("boom") != std::string::npos);
  auto m = s.run->step_meta(s.run->at(*s.run->find("wr_fail")).id);
  REQUIRE(m);
  CHECK(m->attempts.size() == 3);
}

TEST_CASE("workflow_run: a stale or repeated result changes nothing") {
  auto s = sim::create(wr_inc(wr_fail(1)).node());
  s.begin();
  auto first = s.take();
  s.complete(first); // attempt 1 fails, attempt 2 dispatched
  auto second = s.take();
  auto before = s.log.size();
  s.result(first, value_of(7));
  CHECK(s.log.size() == before); // attempt 1 is over
  CHECK(s.ready.empty());
  s.result(second, value_of(7));
  auto after = s.log.size();
  s.result(second, value_of(9));
  CHECK(s.log.size() == after); // delivered twice: logged once
  s.drain();
  CHECK(s.output() == 8);
}

TEST_CASE("workflow_run: a catching step turns its failure into a value") {
  auto s = sim::create(catching(wr_fail)(1).node());
  s.begin();
  s.drain();
  CHECK(s.run->end() == run_end::succeeded);
  auto out = codec::decode<caught<int>>(*s.run->at(s.run->root()).output);
  REQUIRE(out);
  CHECK_FALSE(out->ok());
}

TEST_CASE("workflow_run: a dynamic step's sub-graph runs and its result is the step's output") {
  auto s = sim::create(wr_inc(wr_split(4)).node());
  s.begin();
  s.complete(s.take()); // wr_split returns its graph
  CHECK(s.last_kinds.front() == kind::step_continued);
  CHECK(s.ready.size() == 4); // the four incs of the sub-graph
  s.drain();
  CHECK(s.output() == 1 + 2 + 3 + 4 + 1);
}

TEST_CASE("workflow_run: a sub-graph that can never run fails its dynamic step and adds no node") {
  auto s = sim::create(wr_inc(wr_split_big(1)).node());
  s.begin();
  s.complete(s.take()); // wr_split_big returns a graph needing cpus=8
  CHECK(s.last_kinds
        == std::vector<kind>{kind::step_failed, kind::workflow_failed});
  CHECK(s.run->end() == run_end::failed);
  CHECK(s.run->end_status().message().find("can never run")
        != std::string::npos);
  // Nothing of the refused graph stays: no node, no id, nothing logged.
  CHECK_FALSE(s.run->find("wr_big"));
  CHECK_FALSE(s.run->find("wr_sum"));
  CHECK(s.run->find("wr_inc")); // the workflow's own
  CHECK(s.run->metadata(workflow_status::failed).steps == 2);
  auto r = s.replayed();
  CHECK(r.run->metadata(workflow_status::failed).steps == 2);
  CHECK_FALSE(r.run->find("wr_big"));
  CHECK(r.run->end() == run_end::failed);
}

TEST_CASE("workflow_run: cancel logs the end once and drops later results") {
  auto s = sim::create(wr_inc(wr_inc(0)).node());
  s.begin();
  auto d = s.take();
  plan p;
  s.run->on_cancel(p);
  s.commit(p);
  CHECK(s.last_kinds == std::vector<kind>{kind::workflow_canceled});
  CHECK(s.last_ends);
  CHECK(s.run->end() == run_end::canceled);
  CHECK(s.run->end_status().code() == errc::canceled);
  auto before = s.log.size();
  s.complete(d);
  plan again;
  s.run->on_cancel(again);
  s.commit(again);
  CHECK(s.log.size() == before);
  CHECK(s.ready.empty());
}

TEST_CASE("workflow_run: a replay resumes exactly the steps without a logged result") {
  std::vector<workflow<int>> parts;
  for (int i = 0; i < 3; ++i)
    parts.push_back(wr_inc(i));
  auto s = sim::create(wr_inc(wr_sum(parts)).node());
  s.begin();
  auto a = s.take(), b = s.take(), c = s.take();
  s.complete(a);
  s.complete(c); // b was running when the process died
  (void)b;
  auto r = s.replayed();
  CHECK(r.run->end() == run_end::none);
  r.begin();
  CHECK(r.last_kinds.front() == kind::workflow_resumed);
  REQUIRE(r.ready.size() == 1);
  auto again = r.take();
  CHECK(again.node == b.node);
  CHECK(again.attempt == 1);
  r.complete(again);
  r.drain();
  CHECK(r.output() == 1 + 2 + 3 + 1);
  // The finished log replays as finished, with nothing to start.
  auto done = r.replayed();
  CHECK(done.run->end() == run_end::succeeded);
  CHECK(done.output() == 7);
}

TEST_CASE("workflow_run: a replay after a continuation resumes inside the sub-graph") {
  auto s = sim::create(wr_split(3).node());
  s.begin();
  s.complete(s.take()); // continued
  s.complete(s.take()); // one of three incs
  auto r = s.replayed();
  r.begin();
  CHECK(r.ready.size() == 2); // the other two; the split itself not again
  for (auto& d : r.ready)
    CHECK(r.run->at(d.node).step_name == "wr_inc");
  r.drain();
  CHECK(r.output() == 1 + 2 + 3);
}

TEST_CASE("workflow_run: after a stop, results are logged but start nothing") {
  auto s = sim::create(wr_inc(wr_inc(0)).node());
  s.begin();
  auto d = s.take();
  s.run->on_stop();
  s.complete(d);
  CHECK(s.last_kinds == std::vector<kind>{kind::step_succeeded});
  CHECK(s.ready.empty());
  CHECK(s.run->end() == run_end::none); // resumable
}
