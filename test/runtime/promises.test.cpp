// SPDX-License-Identifier: Apache-2.0
// Durable promises through the public API: this_step::promise_id,
// wait_for_promise<T>(name) and engine::complete / reject, settled
// before, during and after the wait, twice, and for workflows that are
// unknown, finished or canceled.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

std::atomic<bool> pr_gate_open{false};

// Holds its workflow before the waits until the test opens the gate.
const auto pr_gate = step("pr_gate", [] {
  wait_until([] { return pr_gate_open.load(); });
  return 0;
});

// What the "external system" received: the ids handed to it.
std::mutex handed_mu;
std::vector<std::string> handed;

std::string last_handed() {
  std::lock_guard guard{handed_mu};
  return handed.empty() ? std::string{} : handed.back();
}

// Hands the promise "pay" of its workflow to the outside world.
const auto pr_hand = step("pr_hand", [](int) {
  auto id = this_step::promise_id("pay");
  std::lock_guard guard{handed_mu};
  handed.push_back(id);
  return id;
});

struct receipt {
  std::string by;
  int cents = 0;
};
PERDURE_FIELDS(receipt, by, cents)

const auto pr_finish = step("pr_finish", [](std::string id, receipt r) {
  return id + ":" + r.by + ":" + std::to_string(r.cents);
});

const auto pr_pair = step("pr_pair", [](int a, int b) {
  return std::vector<int>{a, b};
});

const auto pr_after_gate = step("pr_after_gate", [](int) -> workflow<int> {
  return wait_for_promise<int>("early");
});

bool exists(engine& eng, const std::string& id) {
  return eng.try_status(id).has_value();
}

// The payment workflow: hand the id out, wait for the receipt.
workflow<std::string> payment() {
  auto id = pr_hand(pr_gate());
  return pr_finish(id, wait_for_promise<receipt>("pay"));
}

std::uint64_t signal_records(engine& eng, const std::string& id) {
  auto info = eng.event_log()->info("signals/" + id);
  return info ? info->last_seq : 0;
}

} // namespace

TEST_CASE("a step hands out a promise id and completing it resumes the wait") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  pr_gate_open = true;
  auto h = eng.run_async(payment(), "order-1");
  REQUIRE(wait_until([&] { return last_handed() == "pay@order-1"; }));
  CHECK(promise_id("order-1", "pay") == "pay@order-1");
  eng.complete("pay@order-1", receipt{"bank", 1250});
  CHECK(h.get() == "pay@order-1:bank:1250");
  CHECK(eng.metadata("order-1", "promise:pay").state
        == step_state::succeeded);
  // Settled once: a second completion or a rejection changes nothing.
  auto before = signal_records(eng, "order-1");
  auto st = eng.try_complete("pay@order-1", receipt{"bank", 1});
  // The workflow ended: that is said first.
  CHECK(st.code() == errc::conflict);
  CHECK(signal_records(eng, "order-1") == before);
}

TEST_CASE("a promise completed twice: the second is a conflict naming the "
          "first, and the wait sees the first value") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  pr_gate_open = false;
  auto h = eng.run_async(pr_after_gate(pr_gate()), "twice");
  REQUIRE(wait_until([&] { return exists(eng, "twice"); }));
  // Before the workflow waits: kept.
  eng.complete("early@twice", 1);
  auto before = signal_records(eng, "twice");
  auto st = eng.try_complete("early@twice", 2);
  CHECK(st.code() == errc::conflict);
  CHECK(st.message().find("already completed (by engine)")
        != std::string::npos);
  st = eng.try_reject("early@twice", "too late");
  CHECK(st.code() == errc::conflict);
  CHECK_THROWS_AS(eng.complete("early@twice", 3), perdure::error);
  CHECK(signal_records(eng, "twice") == before);
  pr_gate_open = true;
  CHECK(h.get() == 1);
}

TEST_CASE("concurrent completions of one promise: exactly one is stored") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(wait_for_promise<int>("p"), "race");
  REQUIRE(wait_until([&] { return exists(eng, "race"); }));
  std::atomic<int> ok{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto st = eng.try_complete("p@race", t);
      if (st)
        ++ok;
      else if (st.code() == errc::conflict)
        ++conflicts;
    });
  for (auto& t : threads)
    t.join();
  CHECK(ok == 1);
  CHECK(conflicts == 3);
  auto v = h.get();
  CHECK((v >= 0 && v < 4));
  auto recs = eng.event_log()->read("signals/race").value();
  CHECK(recs.size() == 1);
}

TEST_CASE("every wait on one promise sees its value") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(
    pr_pair(wait_for_promise<int>("x"), wait_for_promise<int>("x")), "both");
  REQUIRE(wait_until([&] { return exists(eng, "both"); }));
  eng.complete("x@both", 7);
  CHECK(h.get() == std::vector<int>{7, 7});
}

TEST_CASE("a rejected promise fails its wait, or is caught") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(wait_for_promise<int>("r"), "rej");
  REQUIRE(wait_until([&] { return exists(eng, "rej"); }));
  eng.reject("r@rej", "card declined");
  auto r = h.try_get();
  REQUIRE(!r);
  CHECK(r.error().code() == errc::failed);
  CHECK(r.error().message().find("promise_rejected") != std::string::npos);
  CHECK(r.error().message().find("card declined") != std::string::npos);
  CHECK(eng.try_complete("r@rej", 1).code() == errc::conflict);

  auto c = eng.run_async(try_wait_for_promise<int>("r"), "caught");
  REQUIRE(wait_until([&] { return exists(eng, "caught"); }));
  eng.reject("r@caught", "no");
  auto got = c.get();
  CHECK(!got.ok());
  CHECK(got.error_type() == "perdure::promise_rejected");
  CHECK(got.error().find("'r@caught' was rejected: no")
        != std::string::npos);
}

TEST_CASE("settling a promise of an unknown, canceled or failed workflow, "
          "or a malformed id, is refused and stores nothing") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto st = eng.try_complete("p@nobody", 1);
  CHECK(st.code() == errc::not_found);
  CHECK(st.message().find("'nobody'") != std::string::npos);
  CHECK_THROWS_AS(eng.complete("p@nobody", 1), perdure::not_found);

  auto h = eng.run_async(wait_for_promise<int>("p"), "cx");
  REQUIRE(wait_until([&] { return exists(eng, "cx"); }));
  eng.cancel("cx");
  st = eng.try_complete("p@cx", 1);
  CHECK(st.code() == errc::canceled);
  CHECK(eng.try_reject("p@cx", "x").code() == errc::canceled);
  CHECK(eng.event_log()->info("signals/cx").error() == errc::not_found);

  auto f = eng.run_async(wait_for_promise<int>("p"), "fx");
  REQUIRE(wait_until([&] { return exists(eng, "fx"); }));
  eng.complete("p@fx", "not a number");
  REQUIRE(!f.try_get());
  st = eng.try_complete("p@fx", 1);
  CHECK(st.code() == errc::conflict);
  CHECK(st.message().find("failed") != std::string::npos);

  for (auto bad : {"nope", "@fx", "p@", ""})
    CHECK(eng.try_complete(bad, 1).code() == errc::invalid_argument);
  CHECK_THROWS_AS(wait_for_promise<int>("a@b"), perdure::error);
  CHECK_THROWS_AS(wait_for_promise<int>(""), perdure::error);
  CHECK_THROWS_AS(this_step::promise_id("x"), perdure::error);
}

TEST_CASE("a value of the wrong type fails the wait naming the promise") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto h = eng.run_async(wait_for_promise<int>("n"), "typed");
  REQUIRE(wait_until([&] { return exists(eng, "typed"); }));
  eng.complete("n@typed", std::string{"seven"});
  auto r = h.try_get();
  REQUIRE(!r);
  CHECK(r.error().message().find("promise 'n@typed'") != std::string::npos);
}

TEST_CASE("a promise settled while its workflow is not running is kept "
          "until it resumes") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    pr_gate_open = true;
    auto h = eng.run_async(payment(), "order-2");
    REQUIRE(wait_until([&] { return last_handed() == "pay@order-2"; }));
  } // stopped while waiting: resumable
  {
    engine eng{{.storage = dir.path(), .resume_on_open = false}};
    CHECK(eng.status("order-2") == workflow_status::resumable);
    eng.complete("pay@order-2", receipt{"psp", 99});
    CHECK(eng.try_complete("pay@order-2", receipt{"psp", 1}).code()
          == errc::conflict);
    auto h = eng.resume<std::string>("order-2");
    CHECK(h.get() == "pay@order-2:psp:99");
  }
}
