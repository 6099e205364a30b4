// SPDX-License-Identifier: Apache-2.0
// Actors and running workflows (issue 18): a method's sub-workflow that
// continues as new answers its last run's output (also after a restart,
// from the call's key, without running again), and methods that signal a
// waiting workflow from many actors at once all return and every signal
// is consumed once: a signal handed straight to the wait needs the
// workflow's CAF actor, which methods never occupy.

#include <doctest/doctest.h>

#include "perdure/eventlog/records/runs.hpp"

#include "temp_dir.hpp"
#include "test_actors.hpp"
#include "wait_until.hpp"

#include <algorithm>
#include <atomic>
#include <future>
#include <string>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;

struct looper {
  int runs = 0;
  workflow<int> count_to(int limit);
  int notify(std::string workflow, int v) {
    this_step::engine().signal(workflow, "v", v);
    return ++runs;
  }
  int bump() {
    return ++runs;
  }
  int get() const {
    return runs;
  }
};
PERDURE_ACTOR(looper, (runs), (count_to, notify, bump, get))

namespace {

std::atomic<int> loop_bodies{0};

// One run per number from `i` to `limit`.
flow<int> awt_loop_impl(int i, int limit);
const auto awt_loop = step("awt_loop", awt_loop_impl);
flow<int> awt_loop_impl(int i, int limit) {
  loop_bodies.fetch_add(1);
  if (i >= limit)
    return i * 10;
  return continue_as_new(awt_loop(i + 1, limit));
}

// Takes signal value `v` (-1: none), then waits for `n` more "v".
flow<std::vector<int>> awt_collect_impl(int v, int n, std::vector<int> acc);
const auto awt_collect = step("awt_collect", awt_collect_impl);
flow<std::vector<int>> awt_collect_impl(int v, int n, std::vector<int> acc) {
  if (v >= 0)
    acc.push_back(v);
  if (n == 0)
    return acc;
  return awt_collect(wait_for_signal<int>("v"), n - 1, std::move(acc));
}

} // namespace

workflow<int> looper::count_to(int limit) {
  return awt_loop(0, limit);
}

TEST_CASE("a method's sub-workflow that continues as new answers its last "
          "run's output, also from its key after a restart") {
  test::temp_dir dir;
  loop_bodies = 0;
  std::string sub_id;
  {
    engine eng{{.storage = dir.path(), .keep_runs = 3}};
    auto a = eng.actor<looper>("lp");
    CHECK(a.with({.key = "k1"}).call(&looper::count_to, 25) == 250);
    CHECK(loop_bodies.load() == 26);
    // The next mutating call does not wait for an old run.
    CHECK(a.call(&looper::bump) == 1);
    auto done = eng.list({workflow_status::successful});
    REQUIRE(done.size() == 1);
    sub_id = done[0].id;
    auto m = eng.metadata(sub_id);
    CHECK(m.run_number == 26);
    auto kept = records::archived_runs(*eng.event_log(), sub_id).value();
    CHECK(kept == std::vector<std::uint32_t>{23, 24, 25});
  }
  engine eng{{.storage = dir.path()}};
  auto a = eng.get_actor<looper>("lp");
  CHECK(a.with({.key = "k1"}).call(&looper::count_to, 25) == 250);
  CHECK(loop_bodies.load() == 26); // logged: nothing ran again
  CHECK(eng.metadata(sub_id).run_number == 26);
}

TEST_CASE("methods of many actors signalling one waiting workflow at once "
          "all return, and each signal is consumed once") {
  // More concurrent methods than CAF workers and actor pool threads.
  constexpr int senders = 24;
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(awt_collect(-1, senders, std::vector<int>{}), "w");
  REQUIRE(test::wait_until([&] { return eng.try_status("w").has_value(); }));
  std::vector<std::future<int>> calls;
  for (int i = 0; i < senders; ++i)
    calls.push_back(std::async(std::launch::async, [&eng, i] {
      return eng.actor<looper>("s" + std::to_string(i))
        .call(&looper::notify, std::string{"w"}, i);
    }));
  for (auto& c : calls) {
    REQUIRE(c.wait_for(120s) == std::future_status::ready);
    CHECK(c.get() == 1);
  }
  auto got = h.get();
  std::sort(got.begin(), got.end());
  std::vector<int> want(senders);
  for (int i = 0; i < senders; ++i)
    want[i] = i;
  CHECK(got == want);
}
