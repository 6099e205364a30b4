// SPDX-License-Identifier: Apache-2.0
// The outbox's lanes: one sender's told messages go to each receiver one
// at a time in order, to different receivers side by side. A receiver
// that holds its message holds up only its own lane; a message that can
// never be delivered behind a held one moves to the dead stream once, also
// when the process is killed meanwhile.

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <optional>
#include <perdure/eventlog/record_kinds.hpp>
#include <perdure/eventlog/records/actor.hpp>
#include <perdure/perdure.hpp>
#include <string>
#include <vector>

using namespace perdure;

namespace {

constexpr int held_value = 1000; // ln_sink::add waits at the gate for it
std::atomic<bool> ln_gate_open{false};
std::atomic<int> ln_at_gate{0};

struct ln_sink {
  std::vector<int> got;
  void add(int n) {
    if (n == held_value) {
      ++ln_at_gate;
      (void)test::wait_until([] { return ln_gate_open.load(); },
                             std::chrono::minutes{10});
    }
    got.push_back(n);
  }
  std::vector<int> all() const {
    return got;
  }
};
PERDURE_ACTOR(ln_sink, (got), (add, all))

struct ln_feeder {
  int sent = 0;
  void emit(std::string to, int n) {
    ++sent;
    auto st = this_step::engine().actor<ln_sink>(to).tell(&ln_sink::add, n);
    if (!st)
      throw std::runtime_error{st.to_string()};
  }
};
PERDURE_ACTOR(ln_feeder, (sent), (emit))

/// A class only the last test makes known to its engine.
struct ln_late {
  int n = 0;
  void bump(int by) {
    n += by;
  }
  int value() const {
    return n;
  }
};
PERDURE_ACTOR(ln_late, (n), (bump, value))

double gauge(engine& eng, const std::string& name) {
  return eng.metrics().get_gauge(name, "", {}).value();
}

std::uint64_t tell_count(engine& eng, const std::string& outcome) {
  return eng.metrics()
      .get_counter("perdure_actor_tells_total", "", {{"outcome", outcome}})
      .value();
}

eventlog::seq_t first_in_outbox(engine& eng, const std::string& sender) {
  auto info = eng.event_log()->info(actor_records::outbox_stream(sender));
  return info ? info->first_seq : 0;
}

// The dead stream of `sender` (none: it cannot be read).
std::optional<std::vector<actor_records::tell>>
dead_letters(engine& eng, const std::string& sender) {
  std::vector<actor_records::tell> dead;
  auto st = eng.event_log()->scan(
      actor_records::dead_tell_stream(sender), 1,
      [&](const eventlog::record_view& r) {
        dead.push_back(*codec::decode<actor_records::tell>(r.payload));
        return true;
      });
  if (!st && st != errc::not_found)
    return std::nullopt;
  return dead;
}

// Appends to `sender`'s outbox by hand a message calling `method` of
// actor `target` of class `cls` with `n`, as a call of it would have
// logged it. (No REQUIRE: a child process runs it, outside any test case.)
bool forge_tell(eventlog::event_log& log, const std::string& sender,
                const std::string& cls, const std::string& target,
                const std::string& method, int n) {
  eventlog::write_batch b;
  b.append(actor_records::outbox_stream(sender),
           eventlog::to_u16(eventlog::record_kind::actor_tell),
           codec::encode(actor_records::tell{
               cls, target, method, {codec::encode(std::tuple<int>{n})}, {}}));
  return static_cast<bool>(log.commit(std::move(b)));
}

// A message whose method class ln_sink does not have: never delivered.
bool forge_undeliverable(engine& eng, const std::string& sender) {
  return forge_tell(*eng.event_log(), sender, "ln_sink", "fast", "nope", 5);
}

struct gate_reset {
  gate_reset() {
    ln_gate_open = false;
    ln_at_gate = 0;
  }
  ~gate_reset() {
    ln_gate_open = true; // a failed check leaves no method waiting
  }
};

} // namespace

TEST_CASE("a receiver holding its told message holds up only its own lane: "
          "the sender's messages to others are applied meanwhile, in order") {
  gate_reset gate;
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto f = eng.actor<ln_feeder>("feeder");
  f.call(&ln_feeder::emit, std::string{"slow"}, held_value); // seq 1
  REQUIRE(test::wait_until([] { return ln_at_gate == 1; }));
  constexpr int told = 60;
  for (int i = 0; i < told; ++i) // seqs 2 .. told + 1
    f.call(&ln_feeder::emit, "fast-" + std::to_string(i % 4), i);
  std::vector<std::vector<int>> want(4);
  for (int i = 0; i < told; ++i)
    want[i % 4].push_back(i);
  for (int k = 0; k < 4; ++k) {
    auto sink = eng.actor<ln_sink>("fast-" + std::to_string(k));
    REQUIRE(test::wait_until([&] { return sink.call(&ln_sink::all) == want[k]; }));
  }
  // The held message is the oldest: nothing is dropped before it.
  CHECK(ln_at_gate == 1);
  CHECK(gauge(eng, "perdure_actor_tells_sending") == 1);
  CHECK(first_in_outbox(eng, "feeder") == 1);
  CHECK(tell_count(eng, "delivered") == told);

  ln_gate_open = true;
  auto slow = eng.actor<ln_sink>("slow");
  REQUIRE(test::wait_until(
      [&] { return slow.call(&ln_sink::all) == std::vector<int>{held_value}; }));
  REQUIRE(test::wait_until([&] { return first_in_outbox(eng, "feeder") == 0; }));
  CHECK(tell_count(eng, "delivered") == told + 1);
  CHECK(tell_count(eng, "dead") == 0);
  CHECK(gauge(eng, "perdure_actor_tells_sending") == 0);
  // Each receiver's offset is the seq of the last message it applied.
  auto offset = [&](const std::string& receiver) {
    auto o = eng.event_log()->offset(
        actor_records::inbox_offset(receiver, "feeder"));
    REQUIRE(o);
    return o->value_or(0);
  };
  CHECK(offset("slow") == 1);
  for (int k = 0; k < 4; ++k)
    CHECK(offset("fast-" + std::to_string(k)) ==
          static_cast<std::uint64_t>(told - 4 + k + 2));
}

PERDURE_CHILD_ENTRY("lanes_dead_behind_held") {
  engine eng{{.storage = args.at(0)}};
  auto f = eng.actor<ln_feeder>("feeder");
  f.call(&ln_feeder::emit, std::string{"slow"}, held_value); // seq 1, held
  (void)test::wait_until([] { return ln_at_gate == 1; });
  if (!forge_undeliverable(eng, "feeder")) // seq 2
    return 1;
  f.call(&ln_feeder::emit, std::string{"fast"}, 7); // seq 3
  auto fast = eng.actor<ln_sink>("fast");
  if (!test::wait_until(
          [&] { return fast.call(&ln_sink::all) == std::vector<int>{7}; }))
    return 2;
  // The dead message waits for the held one before it: not buried yet.
  auto dead = dead_letters(eng, "feeder");
  std::printf("ready dead=%ld\n", dead ? static_cast<long>(dead->size()) : -1L);
  std::fflush(stdout);
  test::hold_until_killed();
}

TEST_CASE("a message that cannot be delivered behind a held one moves to "
          "the dead stream once, also across a SIGKILL") {
  gate_reset gate;
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  {
    test::child_process child{"lanes_dead_behind_held", {storage}};
    CHECK(child.read_line(std::chrono::minutes{5}) == "ready dead=0");
    child.kill();
  }
  ln_gate_open = true;
  engine eng{{.storage = storage}};
  use_actors<ln_sink, ln_feeder>(eng);
  REQUIRE(test::wait_until([&] { return first_in_outbox(eng, "feeder") == 0; }));
  CHECK(eng.actor<ln_sink>("slow").call(&ln_sink::all) ==
        std::vector<int>{held_value});
  // Applied before the kill: skipped by its receiver when sent again.
  CHECK(eng.actor<ln_sink>("fast").call(&ln_sink::all) == std::vector<int>{7});
  REQUIRE(test::wait_until([&] { return tell_count(eng, "dead") == 1; }));
  auto dead = dead_letters(eng, "feeder");
  REQUIRE(dead);
  REQUIRE(dead->size() == 1);
  CHECK(dead->front().method == "nope");
  CHECK(dead->front().error.find("invalid_argument") != std::string::npos);
}

TEST_CASE("a lane whose receiver's class is not known yet waits, counted "
          "as held, while the others go, and goes once the class is known") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    eng.actor<ln_sink>("sink").call(&ln_sink::add, 1); // the receivers exist
    eng.actor<ln_late>("late").call(&ln_late::bump, 0);
    auto& log = *eng.event_log();
    REQUIRE(forge_tell(log, "early", "ln_late", "late", "bump", 5));
    REQUIRE(forge_tell(log, "early", "ln_sink", "sink", "add", 6));
    REQUIRE(forge_tell(log, "early", "ln_late", "late", "bump", 7));
  }
  engine eng{{.storage = dir.path()}};
  use_actors<ln_sink>(eng); // ln_late is not known yet
  REQUIRE(test::wait_until([&] {
    return eng.actor<ln_sink>("sink").call(&ln_sink::all) ==
           std::vector<int>{1, 6};
  }));
  REQUIRE(test::wait_until(
      [&] { return gauge(eng, "perdure_actor_tell_lanes_held") == 1; }));
  CHECK(first_in_outbox(eng, "early") == 1);
  use_actors<ln_late>(eng);
  REQUIRE(test::wait_until([&] { return first_in_outbox(eng, "early") == 0; }));
  CHECK(eng.get_actor<ln_late>("late").call(&ln_late::value) == 12);
  CHECK(gauge(eng, "perdure_actor_tell_lanes_held") == 0);
  CHECK(tell_count(eng, "delivered") == 3);
}
