// SPDX-License-Identifier: Apache-2.0
// The direct path of signals: a signal sent to a workflow of this engine
// whose wait for it is armed is handed to the wait, and the wait's batch
// stores the signal with its consumption (one commit). Concurrent senders
// keep send order, and a SIGKILL while signals stream in loses no
// acknowledged signal and delivers none twice.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

flow<std::vector<int>> sd_collect_impl(int, int n, std::vector<int> acc);
const auto sd_collect = step("sd_collect", sd_collect_impl);

// Takes signal value `v` (-1: none), then waits for `n` more "v".
flow<std::vector<int>> sd_collect_impl(int v, int n, std::vector<int> acc) {
  if (v >= 0)
    acc.push_back(v);
  if (n == 0)
    return acc;
  return sd_collect(wait_for_signal<int>("v"), n - 1, std::move(acc));
}

metrics::gauge& ready_gauge(engine& eng) {
  return eng.metrics().get_gauge("perdure_signal_waits_ready", "", {});
}

// Until a wait of the engine takes a signal directly.
bool wait_ready(engine& eng) {
  auto& g = ready_gauge(eng);
  return wait_until([&] { return g.value() >= 1; });
}

struct stored_signal {
  int value = 0;
  eventlog::time_ns time = 0;
  bool direct = false;
};

std::vector<stored_signal> stored(engine& eng, const std::string& id,
                                  const std::string& name) {
  std::vector<stored_signal> out;
  auto recs = eng.event_log()->read("signals/" + id);
  if (!recs)
    return out;
  for (auto& r : *recs) {
    auto s = codec::decode<records::signal_sent>(r.payload).value();
    if (s.name == name)
      out.push_back(
        {codec::decode<int>(s.value.data).value(), r.time, s.direct});
  }
  return out;
}

std::vector<eventlog::time_ns> event_times(engine& eng,
                                           const std::string& id) {
  std::vector<eventlog::time_ns> out;
  auto recs = eng.event_log()->read(id);
  REQUIRE(recs);
  for (auto& r : *recs)
    if (r.kind == eventlog::to_u16(eventlog::record_kind::event_received))
      out.push_back(r.time);
  return out;
}

} // namespace

TEST_CASE("a signal sent to an armed wait is stored in the commit that "
          "consumes it") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(sd_collect(-1, 3, std::vector<int>{}), "d1");
  REQUIRE(wait_until([&] { return eng.try_status("d1").has_value(); }));
  // Another name creates the signal stream (and is never consumed).
  eng.signal("d1", "other", 0);
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(wait_ready(eng));
    eng.signal("d1", "v", i);
  }
  CHECK(h.get() == std::vector<int>{1, 2, 3});
  auto sigs = stored(eng, "d1", "v");
  auto events = event_times(eng, "d1");
  REQUIRE(sigs.size() == 3);
  REQUIRE(events.size() == 3);
  // Records of one commit share its time; the usual path commits the
  // signal before the wait's batch can see it, so never in one commit.
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(sigs[i].time == events[i]);
    CHECK(sigs[i].direct);
  }
  CHECK(stored(eng, "d1", "other").size() == 1);
}

TEST_CASE("concurrent senders of one name keep send order on the direct "
          "path") {
  constexpr int senders = 3;
  constexpr int each = 15;
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(sd_collect(-1, senders * each, std::vector<int>{}),
                         "d2");
  REQUIRE(wait_until([&] { return eng.try_status("d2").has_value(); }));
  eng.signal("d2", "other", 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t)
    threads.emplace_back([&eng, t] {
      for (int k = 0; k < each; ++k)
        eng.signal("d2", "v", t * 100 + k);
    });
  for (auto& th : threads)
    th.join();
  auto got = h.get();
  // Consumed in the order they were stored (send order), each once.
  std::vector<int> order;
  for (auto& s : stored(eng, "d2", "v"))
    order.push_back(s.value);
  CHECK(got == order);
  REQUIRE(got.size() == static_cast<std::size_t>(senders * each));
  for (int t = 0; t < senders; ++t) {
    std::vector<int> mine;
    for (auto v : got)
      if (v / 100 == t)
        mine.push_back(v % 100);
    CHECK(mine.size() == static_cast<std::size_t>(each));
    CHECK(std::is_sorted(mine.begin(), mine.end()));
  }
}

TEST_CASE("another writer of the signal stream between the hand-off and "
          "the wait's commit changes nothing") {
  // A direct signal is appended as consumed, expecting nothing of the
  // signal stream: signals of other writers (here this process's log
  // directly, as a Kafka subscription or `perdure signal` would) land
  // before or after it and stay unconsumed, and the workflow goes on.
  constexpr int n = 40;
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(sd_collect(-1, n + 2, std::vector<int>{}), "d3");
  REQUIRE(wait_until([&] { return eng.try_status("d3").has_value(); }));
  std::atomic<bool> sending{true};
  std::atomic<int> others{0};
  std::string failed; // the writer's first error (doctest's REQUIRE is
                      // for the test's own thread)
  std::jthread writer{[&] {
    auto put = [&](const char* name, int v) {
      for (;;) {
        eventlog::write_batch b;
        auto st = eng.add_signal(b, "d3", name, codec::encode(v), "test");
        if (st == errc::busy)
          continue;
        if (!st) {
          failed = st.to_string();
          return false;
        }
        auto r = eng.event_log()->commit(std::move(b));
        if (r)
          return true;
        if (r.error() != errc::conflict) { // conflict: the workflow logged
          failed = r.error().to_string();
          return false;
        }
      }
    };
    for (int i = 0; sending.load(); ++i) {
      if (!put("x", i))
        return;
      others.fetch_add(1);
    }
    // Two of the wait's name, after every direct one.
    if (put("v", 9001))
      put("v", 9002);
  }};
  // Stops the writer also when a REQUIRE leaves early.
  struct stop_writer {
    std::atomic<bool>& sending;
    ~stop_writer() { sending = false; }
  } stop{sending};
  for (int i = 1; i <= n; ++i) {
    REQUIRE(wait_ready(eng));
    REQUIRE(eng.try_signal("d3", "v", i));
  }
  sending = false;
  writer.join();
  REQUIRE(failed.empty());
  auto got = h.get();
  std::vector<int> want;
  for (int i = 1; i <= n; ++i)
    want.push_back(i);
  want.push_back(9001);
  want.push_back(9002);
  CHECK(got == want);
  auto sigs = stored(eng, "d3", "v");
  REQUIRE(sigs.size() == want.size());
  int direct = 0;
  for (auto& s : sigs)
    direct += s.direct;
  CHECK(direct >= 1);
  CHECK_FALSE(sigs[n].direct); // the other writer's
  CHECK(stored(eng, "d3", "x").size() == static_cast<std::size_t>(others));
  MESSAGE(direct << " of " << n << " signals taken directly beside "
                 << others.load() << " other writes");
}

PERDURE_CHILD_ENTRY("sig_direct_stream") {
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(sd_collect(-1, 20, std::vector<int>{}), "sc");
  if (!wait_until([&] { return eng.try_status("sc").has_value(); }))
    return 2;
  eng.signal("sc", "other", 0);
  for (int i = 1; i <= 20; ++i) {
    if (!wait_ready(eng))
      return 3;
    eng.signal("sc", "v", i);
    std::printf("acked %d\n", i);
    std::fflush(stdout);
  }
  test::hold_until_killed();
}

TEST_CASE("signals handed straight to the wait across a SIGKILL are each "
          "consumed exactly once, in send order") {
  for (int kill_after : {1, 7, 14}) {
    CAPTURE(kill_after);
    test::temp_dir dir;
    auto storage = (dir / "s").string();
    {
      test::child_process child{"sig_direct_stream", {storage}};
      REQUIRE(child.read_until("acked " + std::to_string(kill_after)));
      child.kill();
    }
    engine eng{{.storage = storage, .resume_on_open = false}};
    auto sigs = stored(eng, "sc", "v");
    REQUIRE(sigs.size() >= static_cast<std::size_t>(kill_after));
    for (std::size_t i = 0; i < sigs.size(); ++i)
      REQUIRE(sigs[i].value == static_cast<int>(i) + 1);
    // Every stored signal was consumed in its own commit (direct path).
    auto events = event_times(eng, "sc");
    CHECK(events.size() == sigs.size());
    auto h = eng.resume<std::vector<int>>("sc");
    for (int i = static_cast<int>(sigs.size()) + 1; i <= 20; ++i) {
      REQUIRE(wait_ready(eng));
      eng.signal("sc", "v", i);
    }
    std::vector<int> all(20);
    for (int i = 0; i < 20; ++i)
      all[i] = i + 1;
    CHECK(h.get() == all);
    CHECK(stored(eng, "sc", "v").size() == 20);
  }
}
