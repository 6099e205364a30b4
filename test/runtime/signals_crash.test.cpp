// SPDX-License-Identifier: Apache-2.0
// Signals across SIGKILL: a child process sends signals and runs the
// waiting workflow; the test kills it (between send and consumption,
// between consumption and the next step, and while signals stream in),
// resumes on the same storage and checks that every acknowledged signal
// is consumed exactly once, in send order.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

// Set in the child only: a gate that never opens, a value whose next step
// blocks.
std::atomic<bool> child_blocks_gate{false};
std::atomic<int> child_blocks_on{-1};

const auto sc_gate = step("sc_gate", [] {
  if (child_blocks_gate) {
    std::printf("gated\n");
    std::fflush(stdout);
    test::hold_until_killed();
  }
  return -1;
});

flow<std::vector<int>> sc_collect_impl(int, int n, std::vector<int> acc);
const auto sc_collect = step("sc_collect", sc_collect_impl);

// Takes the signal value `v` (-1: none), then waits for `n` more "v".
flow<std::vector<int>> sc_collect_impl(int v, int n, std::vector<int> acc) {
  if (v >= 0 && v == child_blocks_on) {
    std::printf("holding %d\n", v);
    std::fflush(stdout);
    test::hold_until_killed();
  }
  if (v >= 0)
    acc.push_back(v);
  if (n == 0)
    return acc;
  return sc_collect(wait_for_signal<int>("v"), n - 1, std::move(acc));
}

workflow<std::vector<int>> loop_of(int n) {
  return sc_collect(sc_gate(), n, std::vector<int>{});
}

// The values of the signals stored for `id`, in send order.
std::vector<int> stored_signals(engine& eng, const std::string& id) {
  std::vector<int> out;
  auto recs = eng.event_log()->read("signals/" + id);
  if (!recs)
    return out;
  for (auto& r : *recs) {
    auto s = codec::decode<records::signal_sent>(r.payload).value();
    out.push_back(codec::decode<int>(s.value.data).value());
  }
  return out;
}

// In a child (no doctest context there): returns when `id` is stored.
void wait_stored(engine& eng, const std::string& id) {
  if (!wait_until([&] { return eng.try_status(id).has_value(); }))
    std::abort();
}

} // namespace

namespace {

// The two children below: a 3-round loop on `storage`, three signals sent
// and acknowledged, "sent" printed, then waiting for the kill.
int send_three(const std::string& storage) {
  engine eng{{.storage = storage}};
  auto h = eng.run_async(loop_of(3), "sc");
  wait_stored(eng, "sc");
  for (int i = 1; i <= 3; ++i)
    eng.signal("sc", "v", i);
  std::printf("sent\n");
  std::fflush(stdout);
  test::hold_until_killed();
}

} // namespace

PERDURE_CHILD_ENTRY("sig_before_wait") {
  child_blocks_gate = true;
  return send_three(args.at(0));
}

PERDURE_CHILD_ENTRY("sig_after_consume") {
  child_blocks_on = 2;
  return send_three(args.at(0));
}

PERDURE_CHILD_ENTRY("sig_stream") {
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(loop_of(20), "sc");
  wait_stored(eng, "sc");
  for (int i = 1; i <= 20; ++i) {
    eng.signal("sc", "v", i);
    std::printf("acked %d\n", i);
    std::fflush(stdout);
  }
  test::hold_until_killed();
}

TEST_CASE("signals acknowledged before a SIGKILL and not yet consumed are "
          "consumed once after the resume") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  {
    test::child_process child{"sig_before_wait", {storage}};
    // The gate never opens in the child: its waits cannot run there.
    std::string line;
    while ((line = child.read_line()) == "gated")
      ;
    REQUIRE(line == "sent");
    child.kill();
  }
  engine eng{{.storage = storage, .resume_on_open = false}};
  CHECK(eng.status("sc") == workflow_status::resumable);
  auto h = eng.resume<std::vector<int>>("sc");
  CHECK(h.get() == std::vector<int>{1, 2, 3});
  CHECK(stored_signals(eng, "sc") == std::vector<int>{1, 2, 3});
}

TEST_CASE("a signal consumed before a SIGKILL is not delivered again after "
          "the resume") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  {
    test::child_process child{"sig_after_consume", {storage}};
    // Signal 2's consumption is durable once the step after it runs; all
    // three are stored once the child says "sent" (either line first).
    auto a = child.read_line();
    auto b = child.read_line();
    CHECK(((a == "holding 2" && b == "sent")
           || (a == "sent" && b == "holding 2")));
    child.kill();
  }
  // A plain reopen resumes it (engine_options::resume_on_open).
  engine eng{{.storage = storage}};
  CHECK(eng.output<std::vector<int>>("sc") == std::vector<int>{1, 2, 3});
  CHECK(stored_signals(eng, "sc") == std::vector<int>{1, 2, 3});
}

TEST_CASE("signals streaming in across a SIGKILL are each consumed exactly "
          "once, in send order") {
  for (int kill_after : {1, 6, 13}) {
    CAPTURE(kill_after);
    test::temp_dir dir;
    auto storage = (dir / "s").string();
    {
      test::child_process child{"sig_stream", {storage}};
      REQUIRE(child.read_until("acked " + std::to_string(kill_after)));
      child.kill();
    }
    engine eng{{.storage = storage}};
    // Every acknowledged signal is stored (and maybe one more, whose
    // acknowledgement the kill cut off); none twice.
    auto stored = stored_signals(eng, "sc");
    REQUIRE(stored.size() >= static_cast<std::size_t>(kill_after));
    for (std::size_t i = 0; i < stored.size(); ++i)
      REQUIRE(stored[i] == static_cast<int>(i) + 1);
    auto h = eng.resume<std::vector<int>>("sc");
    for (int i = static_cast<int>(stored.size()) + 1; i <= 20; ++i)
      eng.signal("sc", "v", i);
    std::vector<int> all(20);
    for (int i = 0; i < 20; ++i)
      all[i] = i + 1;
    CHECK(h.get() == all);
  }
}
