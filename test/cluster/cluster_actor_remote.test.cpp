// SPDX-License-Identifier: Apache-2.0
// Calls to an actor of another partition made inside a partition's engine
// (an actor method, a step body, the engine's actor_ref): they run on the
// actor's owner, once per key (the calling method's key: a method that
// runs again repeats its calls), with the owner's errors, also when the
// caller's partition moves while it waits. Two hosts on the 3-broker mock,
// two partitions, one led by each.

#include "perdure/cluster/actor_calls.hpp"
#include "two_partitions.hpp"

#include <atomic>
#include <doctest/doctest.h>
#include <future>
#include <map>
#include <perdure/perdure.hpp>
#include <stdexcept>
#include <string>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;
using namespace std::chrono_literals;

namespace {

std::atomic<int> ar_takes{0}; // ar_room::take's runs
step_gate ar_gate;            // take waits while it is closed

struct ar_room {
  std::map<std::string, int> stock;
  int take(std::string item, int qty) {
    ++ar_takes;
    ar_gate.pass();
    auto& n = stock[item];
    if (n < qty)
      throw std::runtime_error("out of " + item);
    n -= qty;
    return n;
  }
  int put(std::string item, int qty) {
    return stock[item] += qty;
  }
  int left(std::string item) const {
    auto i = stock.find(item);
    return i == stock.end() ? 0 : i->second;
  }
};
PERDURE_ACTOR(ar_room, (stock), (take, put, left))

struct ar_wallet {
  long balance = 100;
  int bought = 0;
  /// Takes `qty` of `item` from room actor `room` (wherever it lives),
  /// then pays for it.
  long buy(std::string room, std::string item, int qty, long price) {
    if (balance < qty * price)
      throw std::runtime_error("insufficient funds");
    this_step::engine().actor<ar_room>(room).call(&ar_room::take, item, qty);
    balance -= qty * price;
    bought += qty;
    return balance;
  }
  long funds() const {
    return balance;
  }
};
PERDURE_ACTOR(ar_wallet, (balance, bought), (buy, funds))

struct ar_ring {
  int pokes = 0;
  /// Passes `ring` on: calls pass of its first actor with the rest, or
  /// counts a poke when it is empty.
  int pass(std::vector<std::string> ring) {
    if (ring.empty())
      return ++pokes;
    auto next = ring.front();
    ring.erase(ring.begin());
    return this_step::engine().actor<ar_ring>(next).call(&ar_ring::pass,
                                                          ring);
  }
  int seen() const {
    return pokes;
  }
};
PERDURE_ACTOR(ar_ring, (pokes), (pass, seen))

engine_host_options ar_options(const kafka_mock_process& mock,
                               const std::filesystem::path& dir,
                               const std::string& id) {
  return actor_host_options(mock, "arem", dir, id,
                            served_actors<ar_room, ar_wallet, ar_ring>());
}

template <class R> auto got(R r) {
  REQUIRE_MESSAGE(r, r.error().to_string());
  return std::move(r).value();
}

// A room of `apples` in partition p, created on its owner.
std::string room_in(two_partitions& f, partition_id p, int apples) {
  auto room = id_in(f.a->routing(), p, "room-");
  auto& owner = p == f.pa ? *f.a : *f.b;
  REQUIRE(got(owner.engine_for(room))
              ->try_actor<ar_room>(room, ar_room{{{"apple", apples}}}));
  return room;
}

} // namespace

TEST_CASE("an actor method calls an actor of another partition: on its "
          "owner, once per key, with the owner's errors") {
  ar_gate.set(false);
  two_partitions f{"arem", ar_options};
  auto room = room_in(f, f.pb, 50);
  auto wallet = id_in(f.a->routing(), f.pa, "wallet-");
  ar_takes = 0;

  // Through a's own partition: the wallet's method calls the room on b.
  host_actor<ar_wallet> w{*f.a, wallet};
  auto buy = w.with({"buy-1"});
  CHECK(buy.call(&ar_wallet::buy, room, std::string{"apple"}, 5, 3L) == 85);
  CHECK(f.b->counters().served >= 1);
  // The same key again answers the logged result: nothing runs again.
  CHECK(buy.call(&ar_wallet::buy, room, std::string{"apple"}, 5, 3L) == 85);
  CHECK(ar_takes == 1);
  host_actor<ar_room> r{*f.a, room};
  CHECK(r.call(&ar_room::left, std::string{"apple"}) == 45);

  // The room's error reaches the wallet's method, which throws: nothing
  // of it is kept on either side.
  auto short_of =
      w.try_call(&ar_wallet::buy, room, std::string{"apple"}, 60, 1L);
  REQUIRE_FALSE(short_of);
  CHECK(short_of.error().code() == errc::failed);
  CHECK(short_of.error().message().find("out of apple") != std::string::npos);
  CHECK(w.call(&ar_wallet::funds) == 85);
  CHECK(r.call(&ar_room::left, std::string{"apple"}) == 45);

  // The engine's own actor_ref of an actor of another partition: readonly
  // and mutating calls reach the owner; calls made through one ref run in
  // the order they were made.
  auto eng = got(f.a->engine_for(wallet));
  auto far = got(eng->try_get_actor<ar_room>(room));
  CHECK(far.call(&ar_room::left, std::string{"apple"}) == 45);
  std::vector<call_handle<int>> puts;
  for (int i = 0; i < 5; ++i)
    puts.push_back(far.call_async(&ar_room::put, std::string{"plum"}, 1));
  for (int i = 0; i < 5; ++i)
    CHECK(got(puts[i].try_get()) == i + 1);
  CHECK(far.with({"plum-x"}).call(&ar_room::put, std::string{"plum"}, 10) ==
        15);
  CHECK(far.with({"plum-x"}).call(&ar_room::put, std::string{"plum"}, 10) ==
        15);
  CHECK(far.call_async(&ar_room::left, std::string{"plum"}).get() == 15);
  // Created with constructor arguments: only on its owner.
  auto made = eng->try_actor<ar_room>(id_in(f.a->routing(), f.pb, "new-"),
                                      ar_room{{{"fig", 1}}});
  REQUIRE_FALSE(made);
  CHECK(made.error().code() == errc::invalid_argument);
  CHECK(made.error().message().find("lives in another partition") !=
        std::string::npos);
  f.b->stop();
  f.a->stop();
}

TEST_CASE("an actor method waiting on an actor of another partition runs "
          "again on its partition's next owner, and the callee runs once") {
  ar_gate.set(true);
  two_partitions f{"arem", ar_options};
  struct open_at_end { // a failed REQUIRE leaves no method at the gate
    ~open_at_end() {
      ar_gate.set(false);
    }
  } opener;
  auto room = room_in(f, f.pb, 20);
  auto wallet = id_in(f.a->routing(), f.pa, "wallet-");
  ar_takes = 0;
  // Called through b: the wallet's method on a waits in the room's take,
  // held at the gate on b.
  auto bought = std::async(std::launch::async, [&] {
    return host_actor<ar_wallet>{*f.b, wallet}.with({"buy-9"}).try_call(
        &ar_wallet::buy, room, std::string{"apple"}, 2, 1L);
  });
  REQUIRE(wait_until([] { return ar_takes == 1; }, 60s));
  // The wallet's owner stops: its method is abandoned, nothing of it is
  // logged; b takes the partition, the call is tried again by its key and
  // the method runs again there, calling the room with the same key.
  f.a->stop();
  REQUIRE(wait_until([&] { return f.b->running().size() == 2; }, 90s));
  ar_gate.set(false);
  CHECK(got(bought.get()) == 98);
  CHECK(ar_takes == 1);
  host_actor<ar_room> r{*f.b, room};
  CHECK(r.call(&ar_room::left, std::string{"apple"}) == 18);
  CHECK(host_actor<ar_wallet>{*f.b, wallet}.call(&ar_wallet::funds) == 98);
  f.b->stop();
}

TEST_CASE("a call cycle through another partition fails at once with the "
          "cycle named, and leaves every actor as it was") {
  ar_gate.set(false);
  two_partitions f{"arem", ar_options};
  auto a = id_in(f.a->routing(), f.pa, "ring-a-");
  auto b = id_in(f.a->routing(), f.pb, "ring-b-");
  auto c = id_in(f.a->routing(), f.pa, "ring-c-");
  auto d = id_in(f.a->routing(), f.pb, "ring-d-");
  using ring = std::vector<std::string>;
  auto pass_from = [&](const std::string& first, ring rest) {
    return host_actor<ar_ring>{*f.a, first}.try_call(&ar_ring::pass, rest);
  };
  auto is_cycle = [](const auto& r, const std::string& named) {
    REQUIRE_FALSE(r);
    INFO(r.error().to_string());
    CHECK(r.error().code() == errc::failed); // the outermost method threw
    CHECK(r.error().message().find("call cycle") != std::string::npos);
    CHECK(r.error().message().find(named) != std::string::npos);
  };
  // a -> b -> a: b's call onto a, which waits on b, fails (not after the
  // forward deadline: a conflict is not tried again).
  is_cycle(pass_from(a, {b, a}), a + ".pass -> " + b + ".pass -> " + a);
  // a -> b -> c -> a: the chain goes with each call across partitions.
  is_cycle(pass_from(a, {b, c, a}), b + ".pass -> " + c + ".pass -> " + a);
  // a -> b -> c -> d -> b: a cycle that does not pass through the first.
  is_cycle(pass_from(a, {b, c, d, b}), d + ".pass -> " + b);
  for (auto& id : {a, b, c, d})
    CHECK(host_actor<ar_ring>{*f.b, id}.call(&ar_ring::seen) == 0);
  // No cycle: a -> b -> c -> d, then a -> b twice in a row (b is not
  // waiting when it is called again), then d -> c -> b -> a.
  CHECK(got(pass_from(a, {b, c, d})) == 1);
  CHECK(got(pass_from(a, {b})) == 1);
  CHECK(got(pass_from(a, {b})) == 2);
  CHECK(got(pass_from(d, {c, b, a})) == 1);
  CHECK(host_actor<ar_ring>{*f.a, d}.call(&ar_ring::seen) == 1);
  CHECK(host_actor<ar_ring>{*f.a, a}.call(&ar_ring::seen) == 1);
  f.b->stop();
  f.a->stop();
}
