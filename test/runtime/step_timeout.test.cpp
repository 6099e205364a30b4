// SPDX-License-Identifier: Apache-2.0
// Per-step `timeout` (start-to-close per attempt) through the public API:
// an attempt that runs past it fails with perdure::timeout and is retried;
// its token is set; a body that ignores the token is not waited for and
// its late result is dropped; the option is logged with the graph.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

std::atomic<int> st_runs{0};
std::atomic<int> st_saw_token{0};

// Runs until its token is set (never returns on its own).
const auto st_hang = step("st_hang", [] {
  ++st_runs;
  if (!wait_until([] { return this_step::canceled(); }))
    return -1;
  ++st_saw_token;
  return 0; // too late: dropped
});

// Hangs on its first attempt only.
const auto st_first_hangs = step("st_first_hangs", [] {
  ++st_runs;
  if (this_step::attempt() == 1) {
    wait_until([] { return this_step::canceled(); });
    ++st_saw_token;
    return -1; // dropped
  }
  return this_step::attempt() * 10;
});

std::atomic<bool> st_release{false};

// Ignores its token on attempt 1 until the test releases it.
const auto st_stubborn = step("st_stubborn", [] {
  ++st_runs;
  if (this_step::attempt() == 1) {
    wait_until([] { return st_release.load(); });
    return -1; // dropped: the attempt timed out long ago
  }
  return 7;
});

const auto st_quick = step("st_quick", [] { return 5; });

// In the child: attempt 1 hangs until its timeout, attempt 2 says so and
// hangs past it (ignoring its token) until the kill. Elsewhere: 9.
std::atomic<bool> st_in_child{false};
const auto st_crash = step("st_crash", [] {
  if (!st_in_child)
    return 9;
  if (this_step::attempt() == 1) {
    wait_until([] { return this_step::canceled(); });
    return -1;
  }
  std::printf("attempt %d\n", this_step::attempt());
  std::fflush(stdout);
  std::this_thread::sleep_for(60s);
  return -2;
});

std::atomic<bool> st_beater_began{false};
std::atomic<bool> st_silent_done{false};

// Heartbeats (every ms) until the silent step below has timed out and
// 1.5 s have passed, so it runs longer than its 1 s heartbeat limit
// however fast the machine; only a 1 s stall between two beats (not a
// slow machine's 200 ms, seen under TSan) could fail it.
const auto st_beater = step("st_beater", [] {
  st_beater_began = true;
  auto until = std::chrono::steady_clock::now() + 1500ms;
  while ((!st_silent_done || std::chrono::steady_clock::now() < until)
         && !this_step::canceled()) {
    this_step::heartbeat();
    std::this_thread::sleep_for(1ms);
  }
  return this_step::canceled() ? -1 : 1;
});

} // namespace

TEST_CASE("a step exceeding its timeout is retried and then fails with "
          "perdure::timeout") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  st_runs = 0;
  st_saw_token = 0;
  auto r = eng.try_run(
    st_hang.options({.max_attempts = 3, .timeout = 30ms})(), "hang");
  REQUIRE(!r);
  CHECK(r.error().code() == errc::failed);
  CHECK(r.error().message().find("perdure::timeout") != std::string::npos);
  CHECK(r.error().message().find("timeout of 30 ms") != std::string::npos);
  auto m = eng.metadata("hang", "st_hang");
  CHECK(m.state == step_state::failed);
  CHECK(m.options.timeout == 30ms);
  REQUIRE(m.attempts.size() == 3);
  for (auto& a : m.attempts)
    CHECK(a.error_type == "perdure::timeout");
  CHECK(st_runs == 3);
  // Every timed-out attempt saw its token (each waits for it).
  CHECK(wait_until([] { return st_saw_token.load() == 3; }));
}

TEST_CASE("a timed-out attempt is retried and the retry's value is the "
          "output") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  st_runs = 0;
  st_saw_token = 0;
  CHECK(eng.run(st_first_hangs.options({.timeout = 20ms})(), "retry") == 20);
  auto m = eng.metadata("retry", "st_first_hangs");
  REQUIRE(m.attempts.size() == 2);
  CHECK(m.attempts[0].error_type == "perdure::timeout");
  CHECK(m.attempts[1].error_type.empty());
  CHECK(wait_until([] { return st_saw_token.load() == 1; }));
}

TEST_CASE("a body that ignores its token past the timeout is not waited "
          "for and its late result is dropped") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  st_runs = 0;
  st_release = false;
  CHECK(eng.run(st_stubborn.options({.timeout = 20ms})(), "stub") == 7);
  st_release = true; // attempt 1 returns -1 now: nobody takes it
  CHECK(eng.output<int>("stub") == 7);
  CHECK(st_runs == 2);
}

PERDURE_CHILD_ENTRY("step_timeout_kill") {
  st_in_child = true;
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(
    st_crash.options({.max_attempts = 5, .timeout = 30ms})(), "tk");
  std::this_thread::sleep_for(60s);
  return 0;
}

TEST_CASE("a timed-out attempt logged before a SIGKILL stays in the "
          "history, and the timeout is kept for the resumed run") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  {
    test::child_process child{"step_timeout_kill", {storage}};
    // Attempt 2 starts once attempt 1's failure is durable.
    REQUIRE(child.read_line() == "attempt 2");
    child.kill();
  }
  engine eng{{.storage = storage, .resume_on_open = false}};
  REQUIRE(eng.status("tk") == workflow_status::resumable);
  auto m = eng.metadata("tk", "st_crash");
  CHECK(m.options.timeout == 30ms);
  REQUIRE(m.attempts.size() >= 2);
  CHECK(m.attempts[0].error_type == "perdure::timeout");
  CHECK(eng.resume<int>("tk").get() == 9);
  m = eng.metadata("tk", "st_crash");
  CHECK(m.attempts.front().error_type == "perdure::timeout");
  CHECK(m.attempts.back().error_type.empty());
}

TEST_CASE("a step within its timeout is not affected and the timeout is "
          "kept across a reopen") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    CHECK(eng.run(st_quick.options({.timeout = 1h})(), "quick") == 5);
  }
  engine eng{{.storage = dir.path()}};
  auto m = eng.metadata("quick", "st_quick");
  CHECK(m.options.timeout == 1h);
  CHECK(m.attempts.size() == 1);
  CHECK_THROWS_AS(st_hang.options({.timeout = 0ms})(), perdure::error);
}

TEST_CASE("a heartbeat-less long step times out and a heartbeating one "
          "does not") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  st_beater_began = false;
  st_silent_done = false;
  st_saw_token = 0;
  auto beating = eng.run_async(
    st_beater.options({.max_attempts = 1, .heartbeat_timeout = 1000ms})(),
    "beats");
  REQUIRE(wait_until([] { return st_beater_began.load(); }));
  // Started later, with a shorter limit, never beating.
  auto silent = eng.try_run(
    st_hang.options({.max_attempts = 2, .heartbeat_timeout = 200ms})(),
    "silent");
  st_silent_done = true;
  REQUIRE(!silent);
  CHECK(silent.error().message().find("perdure::heartbeat_timeout")
        != std::string::npos);
  CHECK(silent.error().message().find("sent no heartbeat for 200 ms")
        != std::string::npos);
  auto m = eng.metadata("silent", "st_hang");
  REQUIRE(m.attempts.size() == 2);
  CHECK(m.attempts[1].error_type == "perdure::heartbeat_timeout");
  CHECK(m.options.heartbeat_timeout == 200ms);
  CHECK(beating.get() == 1);
  CHECK(eng.metadata("beats", "st_beater").attempts.size() == 1);
  CHECK_THROWS_AS(st_hang.options({.heartbeat_timeout = -1ms})(),
                  perdure::error);
}
