// SPDX-License-Identifier: Apache-2.0
// The management API: bulk listing, cancel, resume_all, remove, metadata,
// code-change checks, storage ownership and resource checks.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

std::atomic<bool> m_gate{false};
std::atomic<bool> m_fail{false};
std::atomic<int> m_started{0};

const auto m_wait = step("m_wait", [](int x) {
  ++m_started;
  while (!m_gate && !this_step::canceled())
    std::this_thread::sleep_for(1ms);
  if (this_step::canceled())
    throw std::runtime_error("canceled");
  return x;
});
const auto m_check = step("m_check", [](int x) {
  if (m_fail && x % 3 == 0)
    throw std::runtime_error("multiple of three");
  return x;
});
const auto m_gpu = step("m_gpu", [] { return 1; },
                        {.resources = {.gpus = 1}});

engine_options opts(const test::temp_dir& dir) {
  return {.storage = dir.path(), .durability = eventlog::durability::process};
}

std::size_t count(engine& eng, workflow_status s) {
  return eng.list({s}).size();
}

} // namespace

TEST_CASE("100 workflows are listed, canceled and resumed in bulk") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  m_gate = false;
  m_fail = true;
  m_started = 0;
  std::vector<handle<int>> hs;
  for (int i = 0; i < 100; ++i)
    hs.push_back(eng.run_async(m_check(m_wait(i)), "bulk" + std::to_string(i),
                               {.metadata = {{"n", std::to_string(i)}}}));
  CHECK(count(eng, workflow_status::running) == 100);
  for (int i = 0; i < 10; ++i)
    eng.cancel("bulk" + std::to_string(i));
  CHECK(count(eng, workflow_status::canceled) == 10);
  CHECK(count(eng, workflow_status::running) == 90);
  m_gate = true;
  for (int i = 10; i < 100; ++i)
    hs[i].wait();
  // 10..99: multiples of three fail (30 of them), the others succeed.
  CHECK(count(eng, workflow_status::failed) == 30);
  CHECK(count(eng, workflow_status::successful) == 60);
  CHECK(eng.list().size() == 100);
  CHECK(eng.resume_all().empty());
  m_fail = false;
  auto resumed = eng.resume_all(true);
  CHECK(resumed.size() == 30);
  for (auto& id : resumed) // blocks while the resumed run is live
    CHECK(eng.output<int>(id) == std::stoi(id.substr(4)));
  CHECK(count(eng, workflow_status::successful) == 90);
  CHECK(count(eng, workflow_status::canceled) == 10);
  CHECK_THROWS_AS(eng.output<int>("bulk3"), workflow_canceled);
  CHECK(eng.output<int>("bulk33") == 33);
}

TEST_CASE("remove refuses a running workflow and frees a finished id") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  m_gate = false;
  auto h = eng.run_async(m_wait(1), "rm");
  CHECK_THROWS_AS(eng.remove("rm"), workflow_busy);
  m_gate = true;
  CHECK(h.get() == 1);
  eng.remove("rm");
  CHECK_THROWS_AS((void) eng.status("rm"), not_found);
  CHECK_THROWS_AS(eng.remove("rm"), not_found);
  CHECK(eng.run(m_check(7), "rm") == 7);
}

TEST_CASE("metadata is readable while running and after a cancel") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  m_gate = false;
  m_started = 0;
  auto h = eng.run_async(m_wait.options({.metadata = {{"k", "v"}}})(1), "meta",
                         {.metadata = {{"owner", "test"}}});
  while (m_started == 0)
    std::this_thread::sleep_for(1ms);
  auto m = eng.metadata("meta");
  CHECK(m.status == workflow_status::running);
  CHECK(m.user_metadata.at("owner") == "test");
  CHECK(m.start.has_value());
  CHECK_FALSE(m.end.has_value());
  auto s = eng.metadata("meta", "m_wait");
  CHECK(s.state == step_state::running);
  CHECK(s.user_metadata.at("k") == "v");
  CHECK(s.options.max_attempts == 3);
  eng.cancel("meta");
  CHECK_THROWS_AS(h.get(), workflow_canceled);
  m = eng.metadata("meta");
  CHECK(m.status == workflow_status::canceled);
  CHECK(m.start.has_value());
  CHECK_FALSE(m.end.has_value());
  CHECK_THROWS_AS(eng.resume("meta"), workflow_canceled);
}

TEST_CASE("a failed then resumed workflow gets new start and end times") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  m_fail = true;
  CHECK_THROWS_AS(eng.run(m_check(3), "again"), workflow_failed);
  auto first = eng.metadata("again");
  CHECK(first.status == workflow_status::failed);
  REQUIRE(first.end.has_value());
  CHECK(first.error_text.find("multiple of three") != std::string::npos);
  std::this_thread::sleep_for(2ms);
  m_fail = false;
  CHECK(eng.resume<int>("again").get() == 3);
  auto second = eng.metadata("again");
  CHECK(second.status == workflow_status::successful);
  CHECK(second.runs == 2);
  CHECK(*second.start > *first.end);
  CHECK(*second.end > *second.start);
  CHECK(second.attempts == 4);
}

TEST_CASE("a second engine on the same storage is refused") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  CHECK_THROWS_AS(engine{opts(dir)}, workflow_busy);
  test::temp_dir other;
  engine second{opts(other)};
  CHECK(second.run(m_check(1)) == 1);
}

TEST_CASE("a step whose resources can never be met is refused at submit") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  auto r = eng.try_run(m_gpu(), "gpu");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::invalid_argument);
  CHECK(r.error().message().find("gpus") != std::string::npos);
  CHECK_THROWS_AS((void) eng.status("gpu"), not_found);
  engine_options with_gpu = opts(dir);
  with_gpu.capacity.gpus = 1;
}

TEST_CASE("steps needing the whole capacity run one at a time") {
  test::temp_dir dir;
  static std::atomic<int> inside{0}, most{0};
  static const auto heavy = step("m_heavy", [](int x) {
    int now = ++inside;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(2ms);
    --inside;
    return x;
  });
  engine eng{{.storage = dir.path(),
              .durability = eventlog::durability::process,
              .capacity = {.cpus = 2}}};
  std::vector<handle<int>> hs;
  for (int i = 0; i < 6; ++i)
    hs.push_back(eng.run_async(heavy.options({.resources = {.cpus = 2}})(i)));
  for (auto& h : hs)
    h.wait();
  CHECK(most == 1);
}

TEST_CASE("resuming with a changed step signature names the step") {
  test::temp_dir dir;
  m_fail = true;
  {
    auto v1 = step("m_sig", [](int x) { return x; });
    engine eng{opts(dir)};
    CHECK_THROWS_AS(eng.run(m_check(v1(3)), "sig"), workflow_failed);
  }
  m_fail = false;
  {
    auto v2 = step("m_sig", [](std::string s) { return s; });
    engine eng{opts(dir)};
    // m_sig succeeded, but its code changed: its output would be misread.
    try {
      eng.resume("sig");
      FAIL("resume must refuse a changed signature");
    } catch (const signature_mismatch& e) {
      CHECK(std::string{e.what()}.find("m_sig") != std::string::npos);
    }
    CHECK(eng.status("sig") == workflow_status::failed);
  }
  {
    engine eng{opts(dir)};
    // m_sig is not registered at all now; it succeeded, so it is not needed.
    CHECK(eng.resume<int>("sig").get() == 3);
  }
}

TEST_CASE("a step missing from the program blocks the resume of its workflow") {
  test::temp_dir dir;
  m_fail = true;
  {
    auto gone = step("m_gone", [](int x) {
      if (m_fail)
        throw std::runtime_error("not yet");
      return x;
    });
    engine eng{opts(dir)};
    CHECK_THROWS_AS(eng.run(gone(1), "gone"), workflow_failed);
  }
  engine eng{opts(dir)};
  auto r = eng.try_resume("gone");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::type_mismatch);
  CHECK(r.error().message().find("m_gone") != std::string::npos);
  CHECK(eng.status("gone") == workflow_status::failed);
}
