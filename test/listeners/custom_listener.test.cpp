// SPDX-License-Identifier: Apache-2.0
// Custom listeners: poll on listener threads, the event stored once, the
// checkpoint callback after durability, concurrency, errors and cancel.

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/listeners/events.hpp"
#include "perdure/runtime/engine.hpp"

#include "events_logged.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

// A process-wide queue the listener polls (listeners are stateless).
struct mailbox {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::deque<int>> queues;
  void post(const std::string& q, int v) {
    {
      std::lock_guard g{mu};
      queues[q].push_back(v);
    }
    cv.notify_all();
  }
  // Waits for a value; returns nullopt when the poll was dropped.
  std::optional<int> take(const std::string& q) {
    std::unique_lock g{mu};
    // A dropped poll must not take a value: nobody would receive it.
    while (!listener_token().canceled()) {
      if (!queues[q].empty())
        break;
      cv.wait_for(g, 5ms);
    }
    if (listener_token().canceled())
      return std::nullopt;
    int v = queues[q].front();
    queues[q].pop_front();
    return v;
  }
};
mailbox box;

std::atomic<int> polls{0};
std::atomic<int> polls_returned{0}; ///< with an event or dropped
std::atomic<int> checkpoints{0};
std::atomic<bool> durable_at_checkpoint{true};
engine* current = nullptr;
std::string checkpoint_workflow;

struct order {
  std::string queue;
  int amount = 0;
};
PERDURE_FIELDS(order, queue, amount)

struct order_listener {
  using event_type = order;
  static constexpr std::string_view name = "order_listener";
  order poll_for_event(std::string queue) {
    ++polls;
    auto v = box.take(queue);
    ++polls_returned;
    if (!v)
      throw std::runtime_error{"poll dropped"};
    return {queue, *v};
  }
  void event_checkpointed(const order& o) {
    // The event must be durable by now: the log holds its event_received.
    if (!current)
      return;
    bool found = false;
    auto recs = current->event_log()->read(checkpoint_workflow).value();
    for (auto& r : recs)
      if (r.kind == eventlog::to_u16(eventlog::record_kind::event_received)) {
        auto v = codec::decode<records_step_succeeded>(r.payload);
        found = v.has_value();
      }
    if (!found || o.amount <= 0)
      durable_at_checkpoint = false;
    ++checkpoints;
  }
  // Only to decode the record above without the runtime's private header.
  struct records_step_succeeded {
    std::uint32_t node = 0;
    std::string id;
    codec::bytes output;
  };
};
PERDURE_FIELDS(order_listener::records_step_succeeded, node, id, output)

struct failing_listener {
  using event_type = int;
  int poll_for_event(int) {
    throw std::invalid_argument{"queue 'nope' does not exist"};
  }
};

// Its acknowledgement fails: the event is durable, the failure only logged.
struct grumpy_listener {
  using event_type = int;
  static constexpr std::string_view name = "grumpy_listener";
  int poll_for_event(int v) {
    return v;
  }
  void event_checkpointed(int) {
    throw std::runtime_error{"the broker refused the ack"};
  }
};

using test::wait_until;

using test::events_logged;

const auto total = step("custom_total", [](order a, order b) {
  return a.amount + b.amount;
});

} // namespace

TEST_CASE("a custom listener's event is stored once and checkpointed after "
          "it is durable") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  current = &eng;
  checkpoint_workflow = "one_order";
  polls = 0;
  checkpoints = 0;
  auto h = eng.run_async(wait_for_event<order_listener>(std::string{"q1"}),
                         "one_order");
  box.post("q1", 42);
  CHECK(h.get().amount == 42);
  REQUIRE(wait_until([] { return checkpoints.load() > 0; }));
  CHECK(checkpoints.load() == 1);
  CHECK(durable_at_checkpoint.load());
  CHECK(polls.load() == 1);
  CHECK(events_logged(eng, "one_order") == 1);
  // Running the id again returns the stored event without polling.
  CHECK(eng.run(wait_for_event<order_listener>(std::string{"q1"}),
                "one_order")
          .amount
        == 42);
  CHECK(polls.load() == 1);
  current = nullptr;
}

TEST_CASE("several events are awaited concurrently") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path(), .capacity = {.cpus = 1}}};
    current = &eng;
    checkpoint_workflow = "two_orders";
    polls = 0;
    auto h = eng.run_async(
      total(wait_for_event<order_listener>(std::string{"a"}),
            wait_for_event<order_listener>(std::string{"b"})),
      "two_orders");
    // Both polls block at once; b's event is stored while a's poll still
    // blocks (a poll holding the only worker would deadlock here).
    REQUIRE(wait_until([] { return polls.load() == 2; }));
    box.post("b", 2);
    REQUIRE(
      wait_until([&] { return events_logged(eng, "two_orders") == 1; }));
    box.post("a", 1);
    REQUIRE(h.wait_for(60s));
    CHECK(h.get() == 3);
  }
  current = nullptr;
}

TEST_CASE("a listener that throws fails the workflow with its error") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto r = eng.try_run(wait_for_event<failing_listener>(7), "bad_listener");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::failed);
  CHECK(r.error().to_string().find("queue 'nope' does not exist")
        != std::string::npos);
  CHECK(eng.metadata("bad_listener").attempts == 3);
}

TEST_CASE("canceling a workflow drops its listener poll") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  polls = 0;
  polls_returned = 0;
  auto h = eng.run_async(
    wait_for_event<order_listener>(std::string{"never"}), "waits");
  REQUIRE(wait_until([] { return polls.load() > 0; }));
  REQUIRE(polls.load() == 1);
  eng.cancel("waits");
  CHECK(eng.status("waits") == workflow_status::canceled);
  // A value posted later stays in the queue: nobody consumes it. The poll
  // returns either way (dropped, or with the value), so once it returned
  // the value is taken or never will be.
  box.post("never", 5);
  REQUIRE(wait_until([] { return polls_returned.load() > 0; }));
  std::lock_guard g{box.mu};
  CHECK(box.queues["never"].size() == 1);
}

TEST_CASE("what a listener cannot return goes to engine_options::log, not stderr") {
  test::temp_dir dir;
  std::mutex mu;
  std::vector<std::pair<eventlog::log_level, std::string>> seen;
  {
    engine eng{{.storage = dir / "s",
                .log = [&](eventlog::log_level level, std::string_view m) {
                  std::lock_guard g{mu};
                  seen.emplace_back(level, std::string{m});
                }}};
    CHECK(eng.run(wait_for_event<grumpy_listener>(7), "grumpy") == 7);
    // event_checkpointed runs after the event is durable, on the pool.
    static_cast<void>(wait_until([&] {
      std::lock_guard g{mu};
      return !seen.empty();
    }));
  }
  std::lock_guard g{mu};
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].first == eventlog::log_level::warning);
  CHECK(seen[0].second.find("event_checkpointed of workflow 'grumpy'")
        != std::string::npos);
  CHECK(seen[0].second.find("the broker refused the ack") != std::string::npos);
}
