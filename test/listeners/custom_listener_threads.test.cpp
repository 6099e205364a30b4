// SPDX-License-Identifier: Apache-2.0
// Many workflows waiting on one custom listener share a bounded number of
// listener threads.

#include "perdure/listeners/events.hpp"
#include "perdure/runtime/engine.hpp"

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

std::mutex gate_mu;
std::condition_variable gate_cv;
bool gate_open = false;
std::atomic<int> polls_running{0};
std::atomic<int> polls_peak{0};

// Each poll blocks until the test opens the gate.
struct gated_listener {
  using event_type = int;
  static constexpr std::string_view name = "gated_listener";
  int poll_for_event(int x) {
    int now = ++polls_running;
    for (int peak = polls_peak; now > peak;)
      polls_peak.compare_exchange_weak(peak, now);
    std::unique_lock g{gate_mu};
    gate_cv.wait(g, [] { return gate_open; });
    --polls_running;
    return x;
  }
};

std::size_t task_count() {
  return static_cast<std::size_t>(
      std::distance(std::filesystem::directory_iterator{"/proc/self/task"},
                    std::filesystem::directory_iterator{}));
}

using test::wait_until;

} // namespace

TEST_CASE("10,000 workflows waiting on one custom listener use a bounded "
          "number of threads") {
  constexpr int waits = 10'000;
  constexpr auto bound = detail::concurrent_polls<gated_listener>();
  test::temp_dir dir;
  engine eng{
      {.storage = dir.path(), .durability = eventlog::durability::process}};
  auto before = task_count();
  std::vector<handle<int>> hs;
  hs.reserve(waits);
  for (int i = 0; i < waits; ++i)
    hs.push_back(eng.run_async(wait_for_event<gated_listener>(i),
                               "waiting" + std::to_string(i)));
  // Every workflow is live and armed; the listener's threads are all busy.
  REQUIRE(wait_until([&] { return polls_running == static_cast<int>(bound); }));
  CHECK(eng.live_count() == waits);
  auto during = task_count();
  INFO("threads before: " << before << ", while waiting: " << during);
  CHECK(during <= before + bound + 4);
  {
    std::lock_guard g{gate_mu};
    gate_open = true;
  }
  gate_cv.notify_all();
  int right = 0;
  for (int i = 0; i < waits; ++i)
    right += hs[static_cast<std::size_t>(i)].get() == i;
  CHECK(right == waits);
  CHECK(polls_peak == static_cast<int>(bound));
  CHECK(task_count() <= before + bound + 4);
}

namespace {

// Events for waits x >= ready_from are available; older waits see none.
std::atomic<int> ready_from{1 << 30};
std::atomic<int> empty_polls{0};

struct polled_listener {
  using event_type = int;
  static constexpr std::string_view name = "polled_listener";
  static constexpr auto poll_interval = std::chrono::milliseconds{20};
  std::optional<int> poll_for_event(int x) {
    if (x < ready_from) {
      ++empty_polls;
      return std::nullopt;
    }
    return x;
  }
};

} // namespace

TEST_CASE("a listener answering 'no event yet' polls every waiting workflow "
          "in turn on bounded threads") {
  constexpr int waits = 10'000;
  constexpr auto bound = detail::concurrent_polls<polled_listener>();
  test::temp_dir dir;
  engine eng{
    {.storage = dir.path(), .durability = eventlog::durability::process}};
  auto before = task_count();
  std::vector<handle<int>> hs;
  hs.reserve(waits);
  for (int i = 0; i < waits; ++i)
    hs.push_back(eng.run_async(wait_for_event<polled_listener>(i),
                               "polled" + std::to_string(i)));
  // Every wait was polled at least once and found nothing.
  REQUIRE(wait_until([&] { return empty_polls >= waits; }));
  // The last-armed wait gets its event first: it is polled although 9,999
  // earlier waits still have none.
  ready_from = waits - 1;
  CHECK(hs.back().get() == waits - 1);
  CHECK(eng.live_count() == waits - 1);
  auto during = task_count();
  INFO("threads before: " << before << ", while waiting: " << during);
  CHECK(during <= before + bound + 4);
  ready_from = 0;
  int right = 0;
  for (int i = 0; i < waits; ++i)
    right += hs[static_cast<std::size_t>(i)].get() == i;
  CHECK(right == waits);
  // An empty poll is not a failed attempt.
  CHECK(eng.metadata("polled0").attempts == 1);
  CHECK(task_count() <= before + bound + 4);
}
