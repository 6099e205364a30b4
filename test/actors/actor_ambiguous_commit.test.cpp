// SPDX-License-Identifier: Apache-2.0
// A commit reported as failed that took effect all the same: a replicated
// log (the cluster's Kafka partition) may apply a group whose caller it
// told `closed` (its fate was unknown when the owner stepped down) or that
// timed out. The actor must not stay behind its own stream: it reads its
// state from the log again once nothing is in flight, so the next call
// builds on what the log holds and the failed call's retry, by its key,
// answers the logged result without running again.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/group_codec.hpp"
#include "perdure/eventlog/replicator.hpp"
#include "temp_dir.hpp"
#include "test_actors.hpp"

#include <condition_variable>
#include <deque>
#include <doctest/doctest.h>
#include <mutex>
#include <thread>

using namespace perdure;
using test::counter;

namespace {

// Applies each group on its own thread, in order, like a partition
// owner's read-back; told lie_next(), it applies the next group and then
// reports it `closed`.
class ambiguous_replicator final : public eventlog::group_replicator {
 public:
  ~ambiguous_replicator() override {
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
  void lie_next() {
    std::lock_guard lock{mu_};
    lie_ = true;
  }
  void replicate(std::string group, group_done done) override {
    std::lock_guard lock{mu_};
    queue_.push_back({std::move(group), std::move(done), lie_});
    lie_ = false;
    cv_.notify_all();
  }

 private:
  struct item {
    std::string bytes;
    group_done done;
    bool lie = false;
  };
  void run() {
    for (;;) {
      item it;
      {
        std::unique_lock lock{mu_};
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_)
          return;
        it = std::move(queue_.front());
        queue_.pop_front();
      }
      auto g = eventlog::decode_group(it.bytes);
      if (!g) {
        it.done(unexpected{g.as_status()});
        continue;
      }
      auto applied = log_->apply_group(std::move(g->batches), g->now, "n#1");
      if (it.lie && applied)
        it.done(unexpected{errc::closed, "the owner stepped down"});
      else
        it.done(std::move(applied));
    }
  }

  eventlog::event_log* log_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<item> queue_;
  bool lie_ = false;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace

TEST_CASE("a call whose commit was reported failed but took effect: the "
          "actor reads its state again, goes on, and the retry answers the "
          "logged result") {
  test::temp_dir dir;
  auto rep = std::make_shared<ambiguous_replicator>();
  eventlog::options lo;
  lo.dir = dir / "log";
  lo.mode = eventlog::durability::process;
  lo.replicator = rep;
  auto opened = eventlog::event_log::open(std::move(lo));
  REQUIRE_MESSAGE(opened, opened.as_status().to_string());
  std::shared_ptr<eventlog::event_log> log{std::move(*opened)};
  rep->start(log.get());
  {
    engine eng{{.storage = dir / "engine", .event_log = log}};
    auto c = eng.actor<counter>("amb");
    CHECK(c.call(&counter::add, 1) == 1);
    rep->lie_next();
    int before = test::executions;
    auto keyed = c.with({.key = "pay-7"});
    auto lost = keyed.try_call(&counter::incr, 10);
    REQUIRE_FALSE(lost);
    // The log's code reaches the caller: its fate is unknown, not an io
    // failure.
    CHECK(lost.error().code() == errc::closed);
    CHECK(test::executions - before == 1);
    // The log holds the call: its retry answers what it logged, the next
    // call builds on it (before the fix: conflict on every call, forever).
    auto again = keyed.try_call(&counter::incr, 10);
    REQUIRE_MESSAGE(again, again.error().to_string());
    CHECK(*again == 11);
    CHECK(test::executions - before == 1);
    CHECK(c.call(&counter::add, 100) == 111);
    CHECK(c.call(&counter::value) == 111);
  }
  rep->stop();
}
