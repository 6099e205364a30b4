// SPDX-License-Identifier: Apache-2.0
// Actor methods that call other actors: no thread starvation whatever the
// number of callers or actor threads, cycles fail at once, a bound on
// blocked methods, and an engine that stops while methods are blocked.

#include <doctest/doctest.h>

#include "temp_dir.hpp"
#include "wait_until.hpp"
#include "test_actors.hpp"

#include <future>
#include <map>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

engine* market = nullptr;

struct stockroom {
  std::map<std::string, int> stock;
  int take(std::string item, int qty) {
    auto& n = stock[item];
    if (n < qty)
      throw std::runtime_error("out of " + item);
    n -= qty;
    return n;
  }
  int left(std::string item) const {
    auto i = stock.find(item);
    return i == stock.end() ? 0 : i->second;
  }
};
PERDURE_ACTOR(stockroom, (stock), (take, left))

struct wallet {
  long balance = 0;
  int bought = 0;
  /// Buys through the stockroom actor (blocks in its call); pays what it got.
  long buy(std::string item, int qty, long price) {
    if (balance < qty * price)
      throw std::runtime_error("insufficient funds");
    market->get_actor<stockroom>("room").call(&stockroom::take, item, qty);
    balance -= qty * price;
    bought += qty;
    return balance;
  }
  long funds() const {
    return balance;
  }
  int items() const {
    return bought;
  }
};
PERDURE_ACTOR(wallet, (balance, bought), (buy, funds, items))

/// 64 wallets buy 2 x 5 apples each at once (640 of 1000 in stock).
void buy_in_64_chains(engine& eng) {
  market = &eng;
  eng.actor<stockroom>("room", stockroom{{{"apple", 1000}}});
  std::vector<std::future<int>> fs;
  for (int w = 0; w < 64; ++w)
    fs.push_back(std::async(std::launch::async, [&eng, w] {
      auto acct = eng.actor<wallet>("w" + std::to_string(w), wallet{100, 0});
      int ok = 0;
      for (int i = 0; i < 2; ++i)
        ok += acct.try_call(&wallet::buy, std::string{"apple"}, 5, 3L) ? 1 : 0;
      return ok;
    }));
  for (auto& f : fs)
    CHECK(f.get() == 2);
  CHECK(eng.get_actor<stockroom>("room").call(&stockroom::left,
                                              std::string{"apple"})
        == 1000 - 64 * 10);
  for (int w = 0; w < 64; ++w) {
    auto acct = eng.get_actor<wallet>("w" + std::to_string(w));
    CHECK(acct.call(&wallet::funds) == 100 - 30);
    CHECK(acct.call(&wallet::items) == 10);
  }
  market = nullptr;
}

} // namespace

TEST_CASE("64 concurrent wallet->stockroom chains complete on a default "
          "engine") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  buy_in_64_chains(eng);
}

TEST_CASE("64 concurrent wallet->stockroom chains complete on 1 actor "
          "thread") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path(), .actor_threads = 1}};
  buy_in_64_chains(eng);
}

namespace {

engine* ring = nullptr;

/// Calls on through the actors named in `path` ("b,a": b, then a).
struct hop {
  int passed = 0;
  int pass(std::string path) {
    ++passed;
    if (path.empty())
      return passed;
    auto comma = path.find(',');
    auto next = path.substr(0, comma);
    auto rest = comma == std::string::npos ? "" : path.substr(comma + 1);
    return ring->actor<hop>(next).call(&hop::pass, rest);
  }
};
PERDURE_ACTOR(hop, (passed), (pass))

test::test_gate sink_gate;
std::atomic<int> relays_waiting{0};

/// Waits at sink_gate (ignoring any stop request).
struct sink {
  int n = 0;
  int hold() {
    if (!sink_gate.pass(std::chrono::minutes{2}))
      throw std::runtime_error("sink_gate never opened");
    return ++n;
  }
  int count() const {
    return n;
  }
};
PERDURE_ACTOR(sink, (n), (hold, count))

/// Calls the sink and waits for it.
struct relay {
  int calls = 0;
  int via() {
    ++relays_waiting;
    ++calls;
    return ring->actor<sink>("sink").call(&sink::hold);
  }
};
PERDURE_ACTOR(relay, (calls), (via))

test::test_gate body_gate;
const auto stubborn = step("actors_stubborn_body", [](int x) {
  (void) body_gate.pass(std::chrono::minutes{2}); // ignores its token
  return x;
});

using test::wait_until;

} // namespace

TEST_CASE("a mutating call cycle a -> b -> a fails at once naming the "
          "cycle") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  ring = &eng;
  auto a = eng.actor<hop>("a");
  auto h = a.call_async(&hop::pass, std::string{"b,a"});
  // Generous: it fails at once; a hang would run into this limit.
  REQUIRE(h.wait_for(30s));
  auto r = h.try_get();
  REQUIRE(!r);
  CHECK(r.error() == errc::failed);
  CHECK(r.error().message().find("call cycle a.pass -> b.pass -> a.pass: "
                                 "mutating actor methods are not reentrant")
        != std::string::npos);
  // Nothing of the cycle is applied; the actors keep working.
  CHECK(a.call(&hop::pass, std::string{}) == 1);
  CHECK(eng.get_actor<hop>("b").call(&hop::pass, std::string{}) == 1);
  // A method calling its own actor is the shortest cycle.
  auto self = a.try_call(&hop::pass, std::string{"a"});
  REQUIRE(!self);
  CHECK(self.error().message().find("call cycle a.pass -> a.pass")
        != std::string::npos);
  // A chain without a cycle goes through.
  CHECK(a.call(&hop::pass, std::string{"b,c"}) == 1);
  ring = nullptr;
}

TEST_CASE("beyond max_blocked_calls a call from a method fails busy instead "
          "of waiting") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  ring = &eng;
  REQUIRE(configure_actors(eng, {.max_blocked_calls = 4}));
  sink_gate.close();
  relays_waiting = 0;
  std::vector<std::future<status>> fs;
  for (int i = 0; i < 5; ++i)
    fs.push_back(std::async(std::launch::async, [&eng, i] {
      return eng.actor<relay>("r" + std::to_string(i))
        .try_call(&relay::via)
        .as_status();
    }));
  REQUIRE(sink_gate.wait_inside(1));
  // Four relays wait; the fifth fails while the gate is still closed.
  int failed = -1;
  REQUIRE(wait_until([&] {
    for (int i = 0; i < 5; ++i)
      if (fs[i].wait_for(0s) == std::future_status::ready)
        return (failed = i), true;
    return false;
  }));
  auto st = fs[failed].get();
  CHECK(st == errc::failed);
  CHECK(st.message().find("max_blocked_calls") != std::string::npos);
  sink_gate.open();
  for (int i = 0; i < 5; ++i)
    if (i != failed)
      CHECK(fs[i].get());
  ring = nullptr;
}

TEST_CASE("~engine returns within 5 s while 100 actor calls and 10 step "
          "bodies ignoring their token are blocked, and the calls stay "
          "repeatable") {
  test::temp_dir dir;
  sink_gate.close();
  body_gate.close();
  relays_waiting = 0;
  std::mutex log_mu;
  std::string logged; // what the engine reported through its log hook
  auto eng = std::make_unique<engine>(engine_options{
    .storage = dir.path(),
    .log = [&](eventlog::log_level, std::string_view m) {
      std::lock_guard g{log_mu};
      logged.append(m).append("\n");
    },
    .capacity = {.cpus = 16}});
  ring = eng.get();
  std::vector<handle<int>> hs;
  for (int i = 0; i < 10; ++i)
    hs.push_back(eng->run_async(stubborn(i), "stuck" + std::to_string(i)));
  std::vector<std::future<status>> fs;
  for (int i = 0; i < 100; ++i) {
    auto r = eng->actor<relay>("r" + std::to_string(i));
    fs.push_back(std::async(std::launch::async, [r] {
      return r.try_call(&relay::via).as_status();
    }));
  }
  REQUIRE(body_gate.wait_inside(10));
  REQUIRE(sink_gate.wait_inside(1));
  REQUIRE(wait_until([] { return relays_waiting == 100; }));
  auto t0 = std::chrono::steady_clock::now();
  eng.reset();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 5s);
  ring = nullptr;
  {
    // What it abandoned is said through the log hook, naming the method.
    std::lock_guard g{log_mu};
    CAPTURE(logged);
    CHECK(logged.find("did not return") != std::string::npos);
    CHECK(logged.find("method 'hold'") != std::string::npos);
  }
  // Every caller was answered: closed, nothing logged.
  for (auto& f : fs)
    CHECK(f.get() == errc::closed);
  for (auto& h : hs)
    CHECK_THROWS_AS(h.get(), perdure::error);
  // The storage was given up although the abandoned method still holds
  // the log: it opens again at once, before that method returns.
  auto reopened = engine::open({.storage = dir.path()});
  REQUIRE_MESSAGE(reopened.has_value(), reopened.as_status().to_string());
  auto& again = **reopened;
  // The abandoned method and bodies return now, into no engine: what they
  // write fails `closed`, nothing reaches the reopened storage.
  sink_gate.open();
  body_gate.open();
  ring = &again;
  CHECK(again.get_actor<sink>("sink").call(&sink::count) == 0);
  CHECK(again.get_actor<relay>("r7").call(&relay::via) == 1);
  ring = nullptr;
}
