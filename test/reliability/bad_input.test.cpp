// SPDX-License-Identifier: Apache-2.0
// The bad-input suite: malformed ids, oversized payloads, and cancel and
// delete racing with running steps. Each gives a clear typed error, loses
// nothing that was stored, and the engine serves a new workflow afterwards.
// Covered elsewhere, not repeated here: an unknown step and a changed
// signature at resume (runtime/workflow_management), a throwing listener
// (listeners/custom_listener), a throwing actor method
// (actors/actor_failures), a map at its maximum and invalid stream ids in
// the log itself (eventlog/event_log_crash, event_log_append); here the
// engine at its storage limit (engine_options::max_storage_size).

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

const auto b_add = step("b_add", [](int a, int b) { return a + b; });

// The engine still runs new work: a fresh workflow gives its output.
void serves_new_workflow(engine& eng, const std::string& id) {
  CHECK(eng.run(b_add(b_add(1, 2), 3), id) == 6);
  CHECK(eng.status(id) == workflow_status::successful);
}

const std::string bad_ids[] = {
  std::string(300, 'x'),         // longer than a stream id may be
  "bad\xff\xfe",                 // invalid UTF-8
  "\xc0\xaf",                    // overlong UTF-8
  std::string{"nul\0id", 6},     // a NUL inside
};

struct b_account {
  long long balance = 0;
  long long add(long long by) {
    balance += by;
    return balance;
  }
  long long value() const {
    return balance;
  }
};
PERDURE_ACTOR(b_account, (balance), (add, value))

// -- steps for the races -------------------------------------------------------

std::mutex started_mu;
std::map<std::string, std::vector<std::chrono::steady_clock::time_point>>
  started; // workflow id -> start times of its step bodies

const auto b_slow = step("b_slow", [](int x) {
  {
    std::lock_guard<std::mutex> guard{started_mu};
    started[this_step::workflow_id()].push_back(
      std::chrono::steady_clock::now());
  }
  // A cooperative body: stops early when its workflow is canceled.
  for (int i = 0; i < 20 && !this_step::canceled(); ++i)
    std::this_thread::sleep_for(2ms);
  return x + 1;
});

workflow<int> slow_chain(int n) {
  auto w = b_slow(0);
  for (int k = 1; k < n; ++k)
    w = b_slow(w);
  return w;
}

} // namespace

TEST_CASE("malformed workflow ids are invalid_argument and store nothing") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s"}};
  serves_new_workflow(eng, "before");
  for (auto& id : bad_ids) {
    INFO("id of " << id.size() << " bytes");
    auto h = eng.try_run_async(b_add(1, 2), id);
    REQUIRE_FALSE(h);
    CHECK(h.error().code() == errc::invalid_argument);
    CHECK_FALSE(h.error().message().empty());
    CHECK_THROWS_AS(eng.run(b_add(1, 2), id), perdure::error);
    auto st = eng.try_status(id);
    REQUIRE_FALSE(st);
    CHECK((st.error().code() == errc::not_found
           || st.error().code() == errc::invalid_argument));
  }
  // Nothing of them was stored; what was stored before is intact.
  auto all = eng.list();
  REQUIRE(all.size() == 1);
  CHECK(all[0].id == "before");
  CHECK(eng.output<int>("before") == 6);
  serves_new_workflow(eng, "after");
}

TEST_CASE("malformed actor ids are invalid_argument and the engine serves on") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s"}};
  auto good = eng.actor<b_account>("good");
  CHECK(good.call(&b_account::add, 5LL) == 5);
  // An empty actor id is refused too (unlike an empty workflow id, which
  // means "pick a random one"); deliver_to dead-letters keyless records.
  std::vector<std::string> ids(std::begin(bad_ids), std::end(bad_ids));
  ids.push_back("");
  for (auto& id : ids) {
    INFO("id of " << id.size() << " bytes");
    auto a = eng.try_actor<b_account>(id);
    REQUIRE_FALSE(a);
    CHECK(a.error().code() == errc::invalid_argument);
    CHECK_FALSE(a.error().message().empty());
    auto g = eng.try_get_actor<b_account>(id);
    REQUIRE_FALSE(g);
    CHECK((g.error().code() == errc::invalid_argument
           || g.error().code() == errc::not_found));
  }
  CHECK(good.call(&b_account::value) == 5);
  CHECK(good.call(&b_account::add, 1LL) == 6);
  serves_new_workflow(eng, "after");
}

TEST_CASE("an oversized payload grows the map and is stored whole") {
  test::temp_dir dir;
  // Larger than the log's initial 64 MiB map: the commit must grow it.
  constexpr std::size_t size = std::size_t{80} << 20;
  const auto big = step("b_big", [](int seed) {
    std::string s(size, 'a');
    for (std::size_t i = 0; i < s.size(); i += 4096)
      s[i] = static_cast<char>('a' + (i / 4096 + seed) % 26);
    return s;
  });
  const auto measure = step("b_measure", [](std::string s) {
    std::size_t marks = 0;
    for (std::size_t i = 0; i < s.size(); i += 4096)
      marks += s[i] == static_cast<char>('a' + (i / 4096 + 3) % 26);
    return static_cast<long long>(s.size() * 10 + (marks == s.size() / 4096));
  });
  {
    engine eng{{.storage = dir / "s"}};
    CHECK(eng.run(measure(big(3)), "big") == static_cast<long long>(size) * 10 + 1);
    serves_new_workflow(eng, "after");
  }
  engine eng{{.storage = dir / "s"}};
  auto out = eng.output<std::string>("big", "b_big");
  CHECK(out.size() == size);
  CHECK(out[4096] == static_cast<char>('a' + (1 + 3) % 26));
  serves_new_workflow(eng, "after2");
}

TEST_CASE("storage at its maximum size fails the write clearly and serves on") {
  test::temp_dir dir;
  // A step output larger than the whole storage may grow to.
  constexpr std::size_t limit = std::size_t{16} << 20;
  const auto huge = step("b_huge", [](int n) {
    return std::string(static_cast<std::size_t>(n) << 20, 'h');
  });
  {
    engine eng{{.storage = dir / "s", .max_storage_size = limit}};
    serves_new_workflow(eng, "before");
    auto h = eng.run_async(huge(24), "huge");
    REQUIRE(h.wait_for(60s));
    auto r = h.try_get();
    REQUIRE_FALSE(r.has_value());
    MESSAGE("full storage: " << r.error().to_string());
    CHECK(r.error().to_string().find("maximum") != std::string::npos);
    // What was stored before stays readable; small work still fits.
    CHECK(eng.output<int>("before") == 6);
    serves_new_workflow(eng, "after");
  }
  // With room, the same workflow resumes and finishes.
  engine eng{{.storage = dir / "s"}};
  CHECK(eng.output<int>("after") == 6);
  auto again = eng.resume<std::string>("huge");
  REQUIRE(again.wait_for(60s));
  auto out = again.try_get();
  REQUIRE_MESSAGE(out.has_value(), out.error().to_string());
  CHECK(out->size() == std::size_t{24} << 20);
}

TEST_CASE("cancel racing with running steps stops them and keeps the rest") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s"}};
  {
    std::lock_guard<std::mutex> guard{started_mu};
    started.clear();
  }
  constexpr int n = 16;
  std::vector<handle<int>> hs;
  for (int i = 0; i < n; ++i)
    hs.push_back(eng.run_async(slow_chain(6), "race" + std::to_string(i)));
  // Cancel the even ones from several threads while their steps run.
  std::vector<std::chrono::steady_clock::time_point> canceled_at(n);
  std::vector<std::thread> cancelers;
  for (int t = 0; t < 4; ++t)
    cancelers.emplace_back([&, t] {
      std::this_thread::sleep_for(std::chrono::milliseconds{5 + 7 * t});
      for (int i = 2 * t; i < n; i += 8) {
        auto id = "race" + std::to_string(i);
        auto st = eng.try_cancel(id);
        CHECK_MESSAGE(st.is_ok(), st.to_string());
        canceled_at[static_cast<std::size_t>(i)] =
          std::chrono::steady_clock::now();
      }
    });
  for (auto& t : cancelers)
    t.join();
  for (int i = 0; i < n; ++i) {
    auto id = "race" + std::to_string(i);
    INFO(id);
    auto r = hs[static_cast<std::size_t>(i)].try_get();
    if (i % 2 == 1) {
      REQUIRE(r);
      CHECK(*r == 6);
      continue;
    }
    auto st = eng.status(id);
    if (st == workflow_status::successful) {
      CHECK(*r == 6); // it finished before the cancel reached it
      continue;
    }
    CHECK(st == workflow_status::canceled);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::canceled);
    CHECK_THROWS_AS(eng.output<int>(id), workflow_canceled);
    // cancel returns once nothing of it runs: no body started after it.
    std::lock_guard<std::mutex> guard{started_mu};
    for (auto& t : started[id])
      CHECK(t <= canceled_at[static_cast<std::size_t>(i)]);
  }
  serves_new_workflow(eng, "after");
}

TEST_CASE("delete racing with running steps is busy, then frees the id") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "s"}};
  auto h = eng.run_async(slow_chain(8), "del");
  std::atomic<int> busy{0};
  std::vector<std::thread> deleters;
  for (int t = 0; t < 3; ++t)
    deleters.emplace_back([&] {
      for (int k = 0; k < 10; ++k) {
        auto st = eng.try_remove("del");
        if (!st && st.code() == errc::busy)
          ++busy;
        else if (!st)
          CHECK_MESSAGE(false, "unexpected: " << st.to_string());
        std::this_thread::sleep_for(1ms);
      }
    });
  for (auto& t : deleters)
    t.join();
  CHECK(busy.load() > 0);
  // The running workflow lost nothing to the attempts.
  CHECK(h.get() == 8);
  CHECK(eng.output<int>("del") == 8);
  // Finished: delete works once, then the id is unknown and reusable.
  eng.remove("del");
  auto again = eng.try_remove("del");
  REQUIRE_FALSE(again);
  CHECK(again.code() == errc::not_found);
  CHECK_THROWS_AS(eng.status("del"), not_found);
  CHECK(eng.run(b_add(20, 22), "del") == 42);
  // A canceled workflow can be deleted too.
  auto c = eng.run_async(slow_chain(8), "del2");
  eng.cancel("del2");
  eng.remove("del2");
  CHECK_THROWS_AS(eng.status("del2"), not_found);
  serves_new_workflow(eng, "after");
}
