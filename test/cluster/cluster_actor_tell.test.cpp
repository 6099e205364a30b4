// SPDX-License-Identifier: Apache-2.0
// Messages told (actor_ref::tell) to an actor of another partition: logged
// in the sender's outbox with its call, sent by the sender partition's
// owner after the call, applied once by the receiver's owner (which keeps
// the sender's highest seq in its own batch), in the order told; when the
// sender's partition moves, its next owner sends what is left and the
// receiver skips what it applied. Two hosts on the 3-broker mock, two
// partitions, one led by each.

#include "perdure/cluster/actor_calls.hpp"
#include "two_partitions.hpp"

#include <atomic>
#include <doctest/doctest.h>
#include <perdure/eventlog/records/actor.hpp>
#include <perdure/perdure.hpp>
#include <string>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;
using namespace std::chrono_literals;

namespace {

std::atomic<int> ct_runs{0}; // ct_room::put's runs
step_gate ct_gate;           // put waits while it is closed ...
std::atomic<int> ct_gated_from{0}; // ... for an n from this one on

struct ct_room {
  std::vector<int> got;
  int put(int n) {
    ++ct_runs;
    if (n >= ct_gated_from)
      ct_gate.pass();
    got.push_back(n);
    return static_cast<int>(got.size());
  }
  std::vector<int> all() const {
    return got;
  }
};
PERDURE_ACTOR(ct_room, (got), (put, all))

struct ct_shipper {
  int shipped = 0;
  /// Tells room `room` (wherever it lives) to put n; returns at once.
  int ship(std::string room, int n) {
    ++shipped;
    auto st = this_step::engine().actor<ct_room>(room).tell(&ct_room::put, n);
    if (!st)
      throw std::runtime_error{st.to_string()};
    return shipped;
  }
};
PERDURE_ACTOR(ct_shipper, (shipped), (ship))

engine_host_options ct_options(const kafka_mock_process& mock,
                               const std::filesystem::path& dir,
                               const std::string& id) {
  return actor_host_options(mock, "atell", dir, id,
                            served_actors<ct_room, ct_shipper>());
}

template <class R> auto got(R r) {
  REQUIRE_MESSAGE(r, r.error().to_string());
  return std::move(r).value();
}

std::vector<int> one_to(int n) {
  std::vector<int> v;
  for (int i = 1; i <= n; ++i)
    v.push_back(i);
  return v;
}

// Whether the outbox of `sender` in `eng`'s store is empty after `told`
// messages.
bool outbox_sent(engine& eng, const std::string& sender, std::uint64_t told) {
  auto info = eng.event_log()->info(actor_records::outbox_stream(sender));
  return info && info->first_seq == 0 && info->last_seq == told;
}

} // namespace

TEST_CASE("messages told to an actor of another partition are applied once "
          "there, in order, after the telling calls") {
  ct_gate.set(false);
  two_partitions f{"atell", ct_options};
  auto room = id_in(f.a->routing(), f.pb, "room-");
  auto shipper = id_in(f.a->routing(), f.pa, "shipper-");
  ct_runs = 0;
  host_actor<ct_shipper> s{*f.a, shipper};
  for (int i = 1; i <= 20; ++i)
    CHECK(s.call(&ct_shipper::ship, room, i) == i);
  host_actor<ct_room> r{*f.a, room};
  REQUIRE(wait_until([&] { return r.call(&ct_room::all).size() == 20; }, 90s));
  CHECK(r.call(&ct_room::all) == one_to(20));
  CHECK(ct_runs == 20);
  auto sender_eng = got(f.a->engine_for(shipper));
  REQUIRE(
      wait_until([&] { return outbox_sent(*sender_eng, shipper, 20); }, 60s));
  auto receiver_eng = got(f.b->engine_for(room));
  auto in = receiver_eng->event_log()->offset(
      actor_records::inbox_offset(room, shipper));
  REQUIRE(in);
  CHECK(in->value_or(0) == 20);
  f.b->stop();
  f.a->stop();
}

TEST_CASE("when the sender's partition moves, its next owner sends what is "
          "left and each message is applied once") {
  ct_gate.set(true);
  two_partitions f{"atell", ct_options};
  struct open_at_end { // a failed REQUIRE leaves no method at the gate
    ~open_at_end() {
      ct_gate.set(false);
    }
  } opener;
  auto room = id_in(f.a->routing(), f.pb, "room-");
  auto shipper = id_in(f.a->routing(), f.pa, "shipper-");
  ct_runs = 0;
  // The calls return once logged; the first message waits in put at the
  // gate on b, the others in the shipper's outbox on a.
  host_actor<ct_shipper> s{*f.a, shipper};
  for (int i = 1; i <= 10; ++i)
    CHECK(s.call(&ct_shipper::ship, room, i) == i);
  REQUIRE(wait_until([] { return ct_runs == 1; }, 60s));
  // The shipper's owner stops; b takes its partition and sends the
  // outbox again from message 1: the room skips or joins what it has.
  f.a->stop();
  REQUIRE(wait_until([&] { return f.b->running().size() == 2; }, 90s));
  ct_gate.set(false);
  host_actor<ct_room> r{*f.b, room};
  bool all_in =
      wait_until([&] { return r.call(&ct_room::all).size() >= 10; }, 90s);
  std::string held;
  for (auto n : r.call(&ct_room::all))
    held += std::to_string(n) + " ";
  auto left = got(f.b->engine_for(shipper))
                  ->event_log()
                  ->info(actor_records::outbox_stream(shipper));
  INFO("the room holds " << held << "; runs " << ct_runs.load()
                         << "; outbox first " << (left ? left->first_seq : 0)
                         << " last " << (left ? left->last_seq : 0));
  REQUIRE(all_in);
  CHECK(r.call(&ct_room::all) == one_to(10));
  CHECK(ct_runs == 10);
  auto sender_eng = got(f.b->engine_for(shipper));
  CHECK(wait_until([&] { return outbox_sent(*sender_eng, shipper, 10); }, 60s));
  f.b->stop();
}

TEST_CASE("a receiver on the other node held in its method holds up only "
          "its own lane: the sender's messages to a receiver beside it are "
          "applied meanwhile") {
  constexpr int held = 1000;
  ct_gate.set(true);
  ct_gated_from = held; // only the far room's message waits at the gate
  two_partitions f{"atell", ct_options};
  struct open_at_end {
    ~open_at_end() {
      ct_gate.set(false);
      ct_gated_from = 0;
    }
  } opener;
  auto far_room = id_in(f.a->routing(), f.pb, "room-");
  auto near_room = id_in(f.a->routing(), f.pa, "near-");
  auto shipper = id_in(f.a->routing(), f.pa, "shipper-");
  ct_runs = 0;
  host_actor<ct_shipper> s{*f.a, shipper};
  CHECK(s.call(&ct_shipper::ship, far_room, held) == 1);
  REQUIRE(wait_until([] { return ct_runs == 1; }, 60s));
  for (int i = 1; i <= 10; ++i)
    CHECK(s.call(&ct_shipper::ship, near_room, i) == i + 1);
  // With one lane for both, none of these could be sent before the far
  // room answered.
  host_actor<ct_room> near{*f.a, near_room};
  REQUIRE(wait_until(
      [&] { return near.call(&ct_room::all) == one_to(10); }, 90s));
  CHECK(ct_runs == 11);
  ct_gate.set(false);
  host_actor<ct_room> far{*f.a, far_room};
  REQUIRE(wait_until(
      [&] { return far.call(&ct_room::all) == std::vector<int>{held}; }, 90s));
  CHECK(ct_runs == 11);
  auto sender_eng = got(f.a->engine_for(shipper));
  CHECK(wait_until([&] { return outbox_sent(*sender_eng, shipper, 11); }, 60s));
  f.b->stop();
  f.a->stop();
}
