// SPDX-License-Identifier: Apache-2.0
// engine_host's request_queue (cluster/src/request_queue.hpp), driven by
// gates the test opens: one key's requests run one at a time in order,
// other keys beside them up to the thread cap, and close() ends what has
// not started with `closed` while a running request finishes.

#include "request_queue.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <future>
#include <mutex>
#include <string>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace std::chrono_literals;

namespace {

// What the requests did, in the order they did it.
struct journal {
  std::mutex mu;
  std::vector<std::string> events;
  void add(std::string e) {
    std::lock_guard g{mu};
    events.push_back(std::move(e));
  }
  std::vector<std::string> all() {
    std::lock_guard g{mu};
    return events;
  }
};

// A request that notes its start, waits for `gate`, and answers `name`.
request_queue::work gated(journal& j, std::string name,
                          std::shared_future<void> gate) {
  return [&j, name, gate]() -> result<std::string> {
    j.add("start " + name);
    gate.wait();
    return name;
  };
}

// A gate already open.
std::shared_future<void> open_gate() {
  std::promise<void> p;
  p.set_value();
  return p.get_future().share();
}

// A done that keeps the result in `into` and sets `arrived`.
request_queue::done keep(result<std::string>& into,
                         std::promise<void>& arrived) {
  return [&into, &arrived](result<std::string> r) {
    into = std::move(r);
    arrived.set_value();
  };
}

} // namespace

TEST_CASE("request_queue: one key's requests wait for each other, "
          "another key runs beside them") {
  journal j;
  std::promise<void> open_a1;
  request_queue q{4};
  result<std::string> a1 = std::string{}, a2 = a1, b1 = a1;
  std::promise<void> a1_done, a2_done, b1_done;
  q.submit("a", gated(j, "a1", open_a1.get_future().share()),
           keep(a1, a1_done));
  q.submit("a", gated(j, "a2", open_gate()), keep(a2, a2_done));
  q.submit("b", gated(j, "b1", open_gate()), keep(b1, b1_done));
  // b1 ends while a1 is held: a2 has not started.
  REQUIRE(b1_done.get_future().wait_for(60s) == std::future_status::ready);
  CHECK(*b1 == "b1");
  auto seen = j.all();
  CHECK(std::count(seen.begin(), seen.end(), "start a2") == 0);
  CHECK(q.pending() == 2);
  open_a1.set_value();
  REQUIRE(a2_done.get_future().wait_for(60s) == std::future_status::ready);
  CHECK(*a1 == "a1");
  CHECK(*a2 == "a2");
  seen = j.all();
  auto at = [&](const char* e) {
    return std::find(seen.begin(), seen.end(), e) - seen.begin();
  };
  CHECK(at("start a1") < at("start a2"));
  CHECK(q.pending() == 0);
}

TEST_CASE("request_queue: at most its threads run at once") {
  journal j;
  std::promise<void> open_a;
  request_queue q{1};
  result<std::string> a = std::string{}, b = a;
  std::promise<void> a_done, b_done;
  q.submit("a", gated(j, "a", open_a.get_future().share()), keep(a, a_done));
  q.submit("b", gated(j, "b", open_gate()), keep(b, b_done));
  auto b_future = b_done.get_future();
  CHECK(b_future.wait_for(50ms) == std::future_status::timeout);
  open_a.set_value();
  REQUIRE(b_future.wait_for(60s) == std::future_status::ready);
  CHECK(j.all() == std::vector<std::string>{"start a", "start b"});
}

TEST_CASE("request_queue: close ends what has not started as closed, and "
          "a running request finishes") {
  journal j;
  std::promise<void> open_a1;
  request_queue q{2};
  result<std::string> a1 = std::string{}, a2 = a1, late = a1;
  std::promise<void> a1_done, a2_done, late_done;
  auto started = std::make_shared<std::promise<void>>();
  auto gate = open_a1.get_future().share();
  q.submit(
      "a",
      [&, started, gate]() -> result<std::string> {
        started->set_value();
        gate.wait();
        return std::string{"a1"};
      },
      keep(a1, a1_done));
  q.submit("a", gated(j, "a2", open_gate()), keep(a2, a2_done));
  REQUIRE(started->get_future().wait_for(60s) == std::future_status::ready);
  q.close(); // a2's done runs here
  CHECK(a2_done.get_future().wait_for(0s) == std::future_status::ready);
  REQUIRE_FALSE(a2);
  CHECK(a2.error().code() == errc::closed);
  q.submit("c", gated(j, "c", open_gate()), keep(late, late_done));
  CHECK(late_done.get_future().wait_for(0s) == std::future_status::ready);
  CHECK(late.error().code() == errc::closed);
  open_a1.set_value();
  q.join();
  CHECK(a1_done.get_future().wait_for(0s) == std::future_status::ready);
  CHECK(*a1 == "a1");
  CHECK(j.all().empty()); // a2 and c never ran
  CHECK(q.pending() == 0);
}
