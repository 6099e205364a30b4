// SPDX-License-Identifier: Apache-2.0
// A step dispatched by a batch is queued in the step pool by that batch's
// completion, on the thread that made it durable (workflow_actor.cpp,
// submit). These tests hold the batch between the log and the disk (a
// replicated log whose group is held, eventlog/replicator.hpp) and decide
// its fate: a batch that fails never starts its step, and a step whose run
// ended meanwhile does not start when its batch becomes durable.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/group_codec.hpp"
#include "perdure/eventlog/replicator.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

// Applies each group on its own thread, in order, like a partition
// owner's read-back; the group after hold_next() waits at the head until
// release() applies or refuses it (and everything behind it waits too).
class gate_replicator final : public eventlog::group_replicator {
 public:
  ~gate_replicator() override {
    stop();
  }
  void start(eventlog::event_log* log) {
    log_ = log;
    thread_ = std::thread{[this] { run(); }};
  }
  void stop() {
    {
      std::lock_guard lock{mu_};
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }
  void hold_next() {
    std::lock_guard lock{mu_};
    hold_next_ = true;
  }
  // Groups handed over and not yet applied (the held one included).
  std::size_t queued() {
    std::lock_guard lock{mu_};
    return queue_.size();
  }
  void release(bool refuse) {
    {
      std::lock_guard lock{mu_};
      for (auto& it : queue_)
        if (it.held) {
          it.held = false;
          it.refuse = refuse;
        }
    }
    cv_.notify_all();
  }
  void replicate(std::string group, group_done done) override {
    std::lock_guard lock{mu_};
    queue_.push_back({std::move(group), std::move(done), hold_next_});
    hold_next_ = false;
    cv_.notify_all();
  }

 private:
  struct item {
    std::string bytes;
    group_done done;
    bool held = false;
    bool refuse = false;
  };
  void run() {
    for (;;) {
      item it;
      {
        std::unique_lock lock{mu_};
        cv_.wait(lock, [&] {
          return stop_ || (!queue_.empty() && !queue_.front().held);
        });
        if (stop_)
          return;
        it = std::move(queue_.front());
        queue_.pop_front();
      }
      if (it.refuse) {
        it.done(unexpected{errc::io, "the replicated log lost the group"});
        continue;
      }
      auto g = eventlog::decode_group(it.bytes);
      if (!g) {
        it.done(unexpected{g.as_status()});
        continue;
      }
      it.done(log_->apply_group(std::move(g->batches), g->now, "n#1"));
    }
  }

  eventlog::event_log* log_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<item> queue_;
  bool hold_next_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// Opens a log on `rep` in `dir`.
std::shared_ptr<eventlog::event_log> open_log(
  const test::temp_dir& dir, gate_replicator& rep,
  std::shared_ptr<gate_replicator> own) {
  eventlog::options lo;
  lo.dir = dir / "log";
  lo.mode = eventlog::durability::process;
  lo.replicator = std::move(own);
  auto opened = eventlog::event_log::open(std::move(lo));
  REQUIRE_MESSAGE(opened, opened.as_status().to_string());
  std::shared_ptr<eventlog::event_log> log{std::move(*opened)};
  rep.start(log.get());
  return log;
}

// A body that says it began and returns (or throws) once told to.
struct gate {
  std::atomic<bool> began{false};
  std::atomic<bool> go{false};
  void pass() {
    began = true;
    if (!test::wait_until([&] { return go.load(); }))
      throw std::runtime_error("the test never opened the gate");
  }
};

gate first_gate;
gate fail_gate;
std::atomic<int> after_runs{0};

const auto ed_first = step("ed_first", [](int x) {
  first_gate.pass();
  return x + 1;
});
const auto ed_after = step("ed_after", [](int x) {
  ++after_runs;
  return x * 10;
});
const auto ed_fail = step(
  "ed_fail",
  [](int) -> int {
    fail_gate.pass();
    throw std::runtime_error("ed_fail refuses");
  },
  {.max_attempts = 1});
const auto ed_join = step("ed_join", [](int a, int b) { return a + b; });

void reset_gates() {
  for (auto* g : {&first_gate, &fail_gate}) {
    g->began = false;
    g->go = false;
  }
  after_runs = 0;
}

} // namespace

TEST_CASE("a step whose dispatching batch fails to commit never starts, and "
          "the caller gets the log's error") {
  reset_gates();
  test::temp_dir dir;
  auto rep = std::make_shared<gate_replicator>();
  auto log = open_log(dir, *rep, rep);
  {
    engine eng{{.storage = dir / "engine", .event_log = log}};
    auto h = eng.run_async(ed_after(ed_first(1)), "lost-batch");
    REQUIRE(test::wait_until([] { return first_gate.began.load(); }));
    // The next group is the one with ed_first's result, which dispatches
    // ed_after.
    rep->hold_next();
    first_gate.go = true;
    REQUIRE(test::wait_until([&] { return rep->queued() == 1; }));
    rep->release(true);
    REQUIRE(h.wait_for(60s));
    auto r = h.try_get();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::io);
    CHECK(r.error().message().find("lost the group") != std::string::npos);
    CHECK(after_runs == 0);
  }
  rep->stop();
  // The lost batch is not in the log: the workflow stays where it was.
  auto info = log->info("lost-batch");
  REQUIRE(info);
  CHECK(info->status == "running");
}

TEST_CASE("a step whose dispatching batch becomes durable after its run "
          "failed elsewhere does not start") {
  reset_gates();
  test::temp_dir dir;
  auto rep = std::make_shared<gate_replicator>();
  auto log = open_log(dir, *rep, rep);
  {
    engine_options o{.storage = dir / "engine", .event_log = log};
    o.capacity.cpus = 4; // both bodies run at once
    engine eng{std::move(o)};
    auto h =
      eng.run_async(ed_join(ed_after(ed_first(1)), ed_fail(2)), "ended-run");
    REQUIRE(test::wait_until(
      [] { return first_gate.began.load() && fail_gate.began.load(); }));
    // Held: ed_first's result, dispatching ed_after. Behind it: ed_fail's
    // failure, which ends the run before ed_after's batch is durable.
    rep->hold_next();
    first_gate.go = true;
    REQUIRE(test::wait_until([&] { return rep->queued() == 1; }));
    fail_gate.go = true;
    REQUIRE(test::wait_until([&] { return rep->queued() == 2; }));
    rep->release(false);
    REQUIRE(h.wait_for(60s));
    auto r = h.try_get();
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("ed_fail refuses") != std::string::npos);
    CHECK(after_runs == 0);
    CHECK(eng.metadata("ended-run", "ed_after").state
          != step_state::succeeded);
  }
  rep->stop();
  auto info = log->info("ended-run");
  REQUIRE(info);
  CHECK(info->status == "failed");
}
