// SPDX-License-Identifier: Apache-2.0
// actor_ref::tell: one-way messages logged with the telling method's call
// (its actor's outbox) and applied once by the receiver, in order per
// sender, across SIGKILL; never sent for a method that threw; messages
// that can never be applied move to the sender's dead stream. Elsewhere
// than in a method, tell is the call itself.

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <memory>
#include <perdure/eventlog/record_kinds.hpp>
#include <perdure/eventlog/records/actor.hpp>
#include <perdure/perdure.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using namespace perdure;

namespace {

struct tl_sink {
  std::vector<int> got;
  void add(int n) {
    if (n < 0)
      throw std::invalid_argument{"negative"};
    got.push_back(n);
  }
  std::vector<int> all() const {
    return got;
  }
  std::size_t size() const {
    return got.size();
  }
};
PERDURE_ACTOR(tl_sink, (got), (add, all, size))

/// Tells sink `to` each n it is given; `emit_then_throw` tells, then
/// throws (nothing may be sent).
struct tl_feeder {
  int sent = 0;
  int emit(std::string to, int n) {
    ++sent;
    auto st = this_step::engine().actor<tl_sink>(to).tell(&tl_sink::add, n);
    if (!st)
      throw std::runtime_error{st.to_string()};
    return sent;
  }
  void emit_then_throw(std::string to, int n) {
    (void)this_step::engine().actor<tl_sink>(to).tell(&tl_sink::add, n);
    throw std::runtime_error{"after telling"};
  }
  int count() const {
    return sent;
  }
};
PERDURE_ACTOR(tl_feeder, (sent), (emit, emit_then_throw, count))

/// Two of them tell each other back and forth: with calls in a cycle this
/// would be refused; told, it runs `left` rounds.
struct tl_pinger {
  int hits = 0;
  void ping(std::string other, int left) {
    ++hits;
    if (left > 0)
      (void)this_step::engine().actor<tl_pinger>(other).tell(
          &tl_pinger::ping, std::string{cell_name}, left - 1);
  }
  std::string cell_name;
  void name(std::string n) {
    cell_name = std::move(n);
  }
  int count() const {
    return hits;
  }
};
PERDURE_ACTOR(tl_pinger, (hits, cell_name), (ping, name, count))

engine* tl_far = nullptr; // the other engine tl_bridge tells into

/// Tells a sink of another engine (tl_far) from its method.
struct tl_bridge {
  int passed = 0;
  void pass(std::string to, int n) {
    ++passed;
    auto st = tl_far->actor<tl_sink>(to).tell(&tl_sink::add, n);
    if (!st)
      throw std::runtime_error{st.to_string()};
  }
};
PERDURE_ACTOR(tl_bridge, (passed), (pass))

std::vector<int> upto(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i)
    v.push_back(i);
  return v;
}

std::uint64_t tell_count(engine& eng, const std::string& outcome) {
  return eng.metrics()
      .get_counter("perdure_actor_tells_total", "", {{"outcome", outcome}})
      .value();
}

} // namespace

TEST_CASE("told messages reach their actor once, in the order told, after "
          "the telling call returned") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto f = eng.actor<tl_feeder>("feeder");
  for (int i = 0; i < 200; ++i)
    CHECK(f.call(&tl_feeder::emit, std::string{"sink"}, i) == i + 1);
  auto sink = eng.actor<tl_sink>("sink");
  REQUIRE(test::wait_until([&] { return sink.call(&tl_sink::size) == 200; }));
  CHECK(sink.call(&tl_sink::all) == upto(200));
  // Delivered messages leave the outbox; its seqs go on.
  REQUIRE(test::wait_until([&] {
    auto info = eng.event_log()->info(actor_records::outbox_stream("feeder"));
    return info && info->first_seq == 0 && info->last_seq == 200;
  }));
  auto in =
      eng.event_log()->offset(actor_records::inbox_offset("sink", "feeder"));
  REQUIRE(in);
  CHECK(in->value_or(0) == 200);
  CHECK(tell_count(eng, "delivered") == 200);
}

TEST_CASE("a method that throws after telling sends nothing") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto f = eng.actor<tl_feeder>("feeder");
  CHECK_THROWS_AS(f.call(&tl_feeder::emit_then_throw, std::string{"sink"}, 7),
                  method_failed);
  f.call(&tl_feeder::emit, std::string{"sink"}, 8);
  auto sink = eng.actor<tl_sink>("sink");
  REQUIRE(test::wait_until([&] { return sink.call(&tl_sink::size) == 1; }));
  CHECK(sink.call(&tl_sink::all) == std::vector<int>{8});
}

TEST_CASE("a told method that throws is applied once and not sent again") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto f = eng.actor<tl_feeder>("feeder");
  f.call(&tl_feeder::emit, std::string{"sink"}, -1); // add(-1) throws
  f.call(&tl_feeder::emit, std::string{"sink"}, 5);
  auto sink = eng.actor<tl_sink>("sink");
  REQUIRE(test::wait_until([&] { return sink.call(&tl_sink::size) == 1; }));
  REQUIRE(test::wait_until([&] {
    auto info = eng.event_log()->info(actor_records::outbox_stream("feeder"));
    return info && info->first_seq == 0;
  }));
  CHECK(sink.call(&tl_sink::all) == std::vector<int>{5});
  CHECK(tell_count(eng, "delivered") == 2);
  CHECK(tell_count(eng, "dead") == 0);
}

TEST_CASE("actors that tell each other in a cycle do not deadlock") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto a = eng.actor<tl_pinger>("ping-a");
  auto b = eng.actor<tl_pinger>("ping-b");
  a.call(&tl_pinger::name, std::string{"ping-a"});
  b.call(&tl_pinger::name, std::string{"ping-b"});
  a.call(&tl_pinger::ping, std::string{"ping-b"}, 100);
  REQUIRE(test::wait_until([&] {
    return a.call(&tl_pinger::count) + b.call(&tl_pinger::count) == 101;
  }));
  CHECK(a.call(&tl_pinger::count) == 51);
  CHECK(b.call(&tl_pinger::count) == 50);
}

TEST_CASE("outside a method, tell is the call: it returns once applied") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto sink = eng.actor<tl_sink>("sink");
  CHECK(sink.tell(&tl_sink::add, 3));
  CHECK(sink.call(&tl_sink::all) == std::vector<int>{3});
  auto st = sink.tell(&tl_sink::add, -3);
  CHECK(st == errc::failed);
}

namespace {

// Appends message `seq`-th of sender `from` to its outbox by hand, as a
// call of it would have logged it.
void forge_tell(eventlog::event_log& log, const std::string& from,
                const std::string& cls, const std::string& target,
                const std::string& method, int n) {
  eventlog::write_batch b;
  b.append(actor_records::outbox_stream(from),
           eventlog::to_u16(eventlog::record_kind::actor_tell),
           codec::encode(actor_records::tell{
               cls, target, method, {codec::encode(std::tuple<int>{n})}, {}}));
  REQUIRE(log.commit(std::move(b)));
}

} // namespace

TEST_CASE("messages left in an outbox go out when the engine opens again: "
          "one already applied is skipped, one that cannot apply is dead") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    eng.actor<tl_sink>("sink").call(&tl_sink::add, 1);
    auto& log = *eng.event_log();
    forge_tell(log, "gone", "tl_sink", "sink", "add", 2);   // seq 1: applied
    forge_tell(log, "gone", "tl_sink", "sink", "add", 3);   // seq 2
    forge_tell(log, "gone", "tl_sink", "nobody", "add", 4); // no such actor
    forge_tell(log, "gone", "tl_sink", "sink", "nope", 5);  // no such method
    forge_tell(log, "gone", "tl_sink", "sink", "add", 6);
    eventlog::write_batch b; // the receiver had applied seq 1 already
    b.put_offset(actor_records::inbox_offset("sink", "gone"), 1);
    REQUIRE(log.commit(std::move(b)));
  }
  engine eng{{.storage = dir.path()}};
  use_actors<tl_sink>(eng);
  auto sink = eng.get_actor<tl_sink>("sink");
  REQUIRE(test::wait_until([&] {
    auto info = eng.event_log()->info(actor_records::outbox_stream("gone"));
    return info && info->first_seq == 0;
  }));
  CHECK(sink.call(&tl_sink::all) == std::vector<int>{1, 3, 6});
  CHECK(tell_count(eng, "delivered") == 3); // 2 (skipped), 3, 6
  // Counted once the outbox's trim is durable, just after it.
  CHECK(test::wait_until([&] { return tell_count(eng, "dead") == 2; }));
  std::vector<actor_records::tell> dead;
  REQUIRE(eng.event_log()->scan(
      actor_records::dead_tell_stream("gone"), 1,
      [&](const eventlog::record_view& r) {
        dead.push_back(*codec::decode<actor_records::tell>(r.payload));
        return true;
      }));
  REQUIRE(dead.size() == 2);
  CHECK(dead[0].target == "nobody");
  CHECK(dead[0].error.find("not_found") != std::string::npos);
  CHECK(dead[1].method == "nope");
  CHECK(dead[1].error.find("invalid_argument") != std::string::npos);
}

namespace {

std::atomic<bool> tl_hold_open{false};
std::atomic<int> tl_hold_inside{0};
std::atomic<int> tl_after_gate{-1}; // this_step::engine()'s errc, 0: none

/// Waits at a gate, then reaches its engine to tell.
struct tl_holder {
  int n = 0;
  void hold_then_tell() {
    ++tl_hold_inside;
    (void)test::wait_until([] { return tl_hold_open.load(); },
                           std::chrono::minutes{5});
    try {
      (void)this_step::engine().actor<tl_sink>("s").tell(&tl_sink::add, 1);
      tl_after_gate = 0;
    } catch (const perdure::error& e) {
      tl_after_gate = static_cast<int>(e.code());
    }
    ++n;
  }
};
PERDURE_ACTOR(tl_holder, (n), (hold_then_tell))

} // namespace

TEST_CASE("a method abandoned by ~engine that reaches its engine afterwards "
          "gets closed, not a destroyed engine") {
  test::temp_dir dir;
  tl_hold_open = false;
  tl_hold_inside = 0;
  tl_after_gate = -1;
  auto eng = std::make_unique<engine>(
      engine_options{.storage = dir.path(),
                     .log = [](eventlog::log_level, std::string_view) {},
                     .stop_timeout = std::chrono::milliseconds{100}});
  auto h = eng->actor<tl_holder>("holder");
  auto call = h.call_async(&tl_holder::hold_then_tell);
  REQUIRE(test::wait_until([] { return tl_hold_inside == 1; }));
  eng.reset(); // abandons the method
  CHECK(call.try_wait() == errc::closed);
  tl_hold_open = true;
  REQUIRE(test::wait_until([] { return tl_after_gate >= 0; }));
  CHECK(tl_after_gate == static_cast<int>(errc::closed));
}

PERDURE_CHILD_ENTRY("tell_feeder") {
  engine eng{{.storage = args.at(0)}};
  use_actors<tl_sink, tl_feeder>(eng);
  auto f = eng.actor<tl_feeder>("feeder");
  for (int i = std::stoi(args.at(1));; ++i) {
    f.call(&tl_feeder::emit, std::string{"sink"}, i);
    std::printf("done %d\n", i);
    std::fflush(stdout);
  }
}

TEST_CASE("told messages are applied exactly once, in order, across "
          "SIGKILLs of the telling process") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  std::mt19937 rng{std::random_device{}()};
  auto seed = rng();
  INFO("seed " << seed);
  rng.seed(seed);
  int next = 0; // what the next child emits first
  for (int round = 0; round < 5; ++round) {
    int target = next + 10 + static_cast<int>(rng() % 120);
    int seen = -1;
    {
      test::child_process child{"tell_feeder", {storage, std::to_string(next)}};
      while (seen < target) {
        auto line = child.read_line();
        REQUIRE(line.rfind("done ", 0) == 0);
        seen = std::stoi(line.substr(5));
      }
      child.kill();
    }
    engine eng{{.storage = storage}};
    use_actors<tl_sink>(eng);
    // Every emit whose call was logged told once; the outbox sends what
    // the kill left in it, the sink skips what it had applied.
    int emitted = eng.actor<tl_feeder>("feeder").call(&tl_feeder::count);
    INFO("round " << round << " seen " << seen << " emitted " << emitted);
    CHECK(emitted >= seen + 1);
    auto sink = eng.actor<tl_sink>("sink");
    REQUIRE(test::wait_until([&] {
      return sink.call(&tl_sink::size) >= static_cast<std::size_t>(emitted);
    }));
    REQUIRE(test::wait_until([&] {
      auto info = eng.event_log()->info(actor_records::outbox_stream("feeder"));
      return info && info->first_seq == 0;
    }));
    CHECK(sink.call(&tl_sink::all) == upto(emitted));
    next = emitted;
  }
}

TEST_CASE("a method telling an actor of another engine calls it there: "
          "applied once, before the method returns, nothing in its outbox") {
  test::temp_dir near_dir, far_dir;
  engine near{{.storage = near_dir.path()}};
  engine far{{.storage = far_dir.path()}};
  tl_far = &far;
  struct reset { // no dangling engine for another test case
    ~reset() {
      tl_far = nullptr;
    }
  } at_end;
  auto sink = far.actor<tl_sink>("far-sink");
  auto bridge = near.actor<tl_bridge>("bridge");
  for (int i = 0; i < 5; ++i) {
    bridge.call(&tl_bridge::pass, std::string{"far-sink"}, i);
    // The outbox of `near` cannot reach `far`: it was the call itself.
    CHECK(sink.call(&tl_sink::size) == static_cast<std::size_t>(i) + 1);
  }
  CHECK(sink.call(&tl_sink::all) == upto(5));
  auto out = near.event_log()->info(actor_records::outbox_stream("bridge"));
  CHECK((!out || out->last_seq == 0));
  CHECK(tell_count(near, "dead") == 0);
  CHECK(tell_count(near, "delivered") == 0);
}
