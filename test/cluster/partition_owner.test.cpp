// SPDX-License-Identifier: Apache-2.0
// One node's ownership of one partition, stepped by hand against the
// in-memory log: claim, lead, fence, and groups decided by reading back.

#include "perdure/cluster/partition_owner.hpp"

#include "perdure/cluster/memory_log.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <doctest/doctest.h>
#include <optional>
#include <thread>

using namespace perdure;
using namespace perdure::cluster;
using namespace std::chrono_literals;

namespace {

struct node {
  memory_replica_store store;
  partition_owner owner;

  node(memory_log& log, std::string id, std::uint64_t inc = 1)
      : owner(log, store, {.partition = 3, .self = {std::move(id), inc}}) {
    REQUIRE(owner.open());
  }
};

// Lands everything queued and lets every owner read it, until quiet.
template <class... Owners> void drive(memory_log& log, Owners&... owners) {
  for (int round = 0; round < 100; ++round) {
    log.settle();
    std::size_t read = 0;
    ((read += owners.poll(0ms).value()), ...);
    if (read == 0 && log.queued() == 0)
      return;
  }
  FAIL("the owners did not settle");
}

using outcome = std::optional<result<log_offset>>;

partition_owner::group_done into(outcome& o) {
  return [&o](result<log_offset> r) { o = std::move(r); };
}

std::size_t applied(const memory_replica_store& s, std::string_view b) {
  std::size_t n = 0;
  for (auto& g : s.applied())
    n += g.group.bytes == b;
  return n;
}

} // namespace

TEST_CASE("an owner catches up, claims and leads at its claim's offset") {
  memory_log log{1};
  log.append(encode(claim_entry{{"old", 1}}), [](result<log_offset>) {});
  log.settle();
  node a{log, "a"};
  CHECK(a.owner.role() == owner_role::follower);
  a.owner.claim();
  CHECK(a.owner.role() == owner_role::catching_up);
  REQUIRE(a.owner.poll(0ms));
  CHECK(a.owner.role() == owner_role::claiming);
  CHECK(a.owner.epoch() == no_epoch);
  drive(log, a.owner);
  CHECK(a.owner.role() == owner_role::leader);
  CHECK(a.owner.epoch() == 1); // after the record that was there
  CHECK(a.owner.state().owner == node_identity{"a", 1});
}

TEST_CASE("a group completes only once read back, and is applied then") {
  memory_log log{1};
  node a{log, "a"};
  a.owner.claim();
  drive(log, a.owner);
  outcome o;
  a.owner.submit("g1", into(o));
  log.settle();
  CHECK_FALSE(o); // landed and acked, but not read back yet
  CHECK(a.owner.pending() == 1);
  REQUIRE(a.owner.poll(0ms));
  REQUIRE(o);
  REQUIRE(o->has_value());
  CHECK(o->value() == 1);
  CHECK(applied(a.store, "g1") == 1);
}

TEST_CASE("a follower refuses groups with the owner's name and epoch") {
  memory_log log{1};
  node a{log, "a"}, b{log, "b"};
  outcome o;
  b.owner.submit("x", into(o));
  REQUIRE(o);
  CHECK(o->error() == errc::busy);
  CHECK(o->error().message().find("no owner") != std::string::npos);
  a.owner.claim();
  drive(log, a.owner, b.owner);
  b.owner.submit("x", into(o));
  CHECK(o->error() == errc::busy);
  CHECK(o->error().message() ==
        "partition 3 is owned by node a (incarnation 1) since epoch 0");
  a.owner.submit("", into(o));
  CHECK(o->error() == errc::invalid_argument);
}

TEST_CASE("a newer claim fences the leader and its zombie groups") {
  memory_log log{1};
  node a{log, "a"}, b{log, "b"};
  a.owner.claim();
  drive(log, a.owner, b.owner);
  REQUIRE(a.owner.role() == owner_role::leader);
  b.owner.claim();
  drive(log, b.owner); // a is paused: it reads nothing
  REQUIRE(b.owner.role() == owner_role::leader);
  auto b_epoch = b.owner.epoch();
  // a wakes up still believing it leads and appends under its old epoch
  CHECK(a.owner.role() == owner_role::leader);
  outcome zombie;
  a.owner.submit("zombie", into(zombie));
  drive(log, a.owner, b.owner);
  REQUIRE(zombie);
  CHECK(zombie->error() == errc::busy);
  CHECK(a.owner.counters().fenced == 1);
  CHECK(a.owner.counters().groups_failed == 1);
  CHECK(b.owner.counters().led == 1);
  CHECK(zombie->error().message().find(
            "owned by node b (incarnation 1) since epoch " +
            std::to_string(b_epoch)) != std::string::npos);
  CHECK(a.owner.role() == owner_role::follower);
  CHECK(applied(a.store, "zombie") == 0);
  CHECK(applied(b.store, "zombie") == 0);
  outcome fine;
  b.owner.submit("b1", into(fine));
  drive(log, a.owner, b.owner);
  CHECK(fine->has_value());
  CHECK(applied(a.store, "b1") == 1);
}

TEST_CASE("a lost ack is no failure: the group is read back and succeeds") {
  memory_log log{1};
  node a{log, "a"};
  a.owner.claim();
  drive(log, a.owner);
  log.faults({.lose_ack = 1});
  outcome o;
  a.owner.submit("g", into(o));
  drive(log, a.owner);
  REQUIRE(o);
  CHECK(o->has_value());
  CHECK(applied(a.store, "g") == 1);
}

TEST_CASE("a group that never landed fails once a barrier is read back") {
  memory_log log{1};
  node a{log, "a"};
  a.owner.claim();
  drive(log, a.owner);
  log.faults({.fail = 1});
  outcome o;
  a.owner.submit("lost", into(o));
  log.settle(); // fails, acks io
  log.faults({});
  drive(log, a.owner); // the barrier lands and decides
  REQUIRE(o);
  CHECK(o->error() == errc::io);
  CHECK(a.owner.pending() == 0);
  CHECK(a.store.applied().empty());
  CHECK(a.owner.role() == owner_role::leader);
  CHECK(a.owner.counters().barriers_appended == 1);
}

TEST_CASE("a claim that failed to land is appended again") {
  memory_log log{1};
  node a{log, "a"};
  a.owner.claim();
  REQUIRE(a.owner.poll(0ms));
  log.faults({.fail = 1});
  log.settle();
  log.faults({});
  drive(log, a.owner);
  CHECK(a.owner.role() == owner_role::leader);
  CHECK(a.owner.counters().claims_appended == 2);
}

TEST_CASE("a duplicated group is applied once and answered once") {
  memory_log log{1};
  node a{log, "a"};
  a.owner.claim();
  drive(log, a.owner);
  log.faults({.duplicate = 1});
  int answers = 0;
  a.owner.submit("g", [&](result<log_offset> r) {
    CHECK(r.has_value());
    ++answers;
  });
  log.step();
  log.faults({});
  drive(log, a.owner);
  CHECK(answers == 1);
  CHECK(log.records().size() == 3);
  CHECK(applied(a.store, "g") == 1);
}

TEST_CASE("of two reordered groups the later takes effect, the earlier "
          "fails") {
  memory_log log{1};
  node a{log, "a"};
  a.owner.claim();
  drive(log, a.owner);
  log.faults({.delay = 1});
  outcome first, second;
  a.owner.submit("first", into(first));
  a.owner.submit("second", into(second));
  log.step(); // "first" is held back behind "second"
  log.faults({});
  drive(log, a.owner);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(second->has_value());
  CHECK(first->error() == errc::io);
  CHECK(applied(a.store, "first") == 0);
}

TEST_CASE("a duplicate of the leader's own claim moves its epoch") {
  memory_log log{1};
  node a{log, "a"};
  a.owner.claim();
  REQUIRE(a.owner.poll(0ms));
  log.faults({.duplicate = 1});
  log.step();
  log.faults({});
  REQUIRE(a.owner.poll(0ms)); // reads the first copy only: leads at 0
  CHECK(a.owner.epoch() == 0);
  outcome o;
  a.owner.submit("g", into(o));
  drive(log, a.owner); // the copy lands first, then "g" under epoch 0
  REQUIRE(o);
  CHECK(o->error() == errc::busy);
  CHECK(a.owner.role() == owner_role::leader);
  CHECK(a.owner.epoch() == 1);
}

TEST_CASE("release fails pending groups with closed and stops leading") {
  memory_log log{1};
  node a{log, "a"};
  a.owner.claim();
  drive(log, a.owner);
  outcome o;
  a.owner.submit("g", into(o));
  a.owner.release();
  REQUIRE(o);
  CHECK(o->error() == errc::closed);
  CHECK(a.owner.role() == owner_role::follower);
  drive(log, a.owner);
  // its fate was unknown: it landed under a's epoch and took effect
  CHECK(applied(a.store, "g") == 1);
}

TEST_CASE("a restarted node claims anew and fences its old incarnation") {
  memory_log log{1};
  memory_replica_store store;
  outcome o;
  {
    partition_owner old{log, store, {.partition = 3, .self = {"a", 1}}};
    REQUIRE(old.open());
    old.claim();
    drive(log, old);
    old.submit("in flight", into(o));
  } // crash: its append is still queued in the log
  CHECK(o->error() == errc::closed);
  partition_owner a{log, store, {.partition = 3, .self = {"a", 2}}};
  REQUIRE(a.open());
  a.claim();
  REQUIRE(a.poll(0ms)); // caught up to the end: appends its claim
  log.faults({.delay = 1});
  log.step(); // the old incarnation's group lands after the new claim
  log.faults({});
  drive(log, a);
  CHECK(a.role() == owner_role::leader);
  CHECK(store.applied().empty());
}

TEST_CASE("an invalid node id is invalid_argument") {
  memory_log log{1};
  memory_replica_store store;
  partition_owner empty{log, store, {.self = {"", 1}}};
  CHECK(empty.open() == errc::invalid_argument);
  partition_owner huge{log, store, {.self = {std::string(256, 'n'), 1}}};
  CHECK(huge.open() == errc::invalid_argument);
}

namespace {

// A log whose end offset lies past its last record, as Kafka's high
// watermark can (transaction markers).
struct far_end_log final : partition_log {
  memory_log inner{1};
  void append(std::string bytes, append_done done) override {
    inner.append(std::move(bytes), std::move(done));
  }
  result<std::vector<log_record>>
  read(log_offset from, std::size_t max,
       std::chrono::milliseconds wait) override {
    return inner.read(from, max, wait);
  }
  result<log_offset> end_offset(std::chrono::milliseconds wait) override {
    auto end = inner.end_offset(wait);
    return end ? result<log_offset>{*end + 10} : end;
  }
};

} // namespace

TEST_CASE("an end offset past the last record does not stall a claim") {
  far_end_log log;
  log.inner.append(encode(claim_entry{{"old", 1}}), [](result<log_offset>) {});
  log.inner.settle();
  memory_replica_store store;
  partition_owner a{log, store, {.partition = 3, .self = {"a", 1}}};
  REQUIRE(a.open());
  a.claim();
  REQUIRE(a.poll(0ms).value() == 1); // reads the old claim, not caught up
  CHECK(a.role() == owner_role::catching_up);
  REQUIRE(a.poll(0ms).value() == 0); // nothing more to read: claims
  CHECK(a.role() == owner_role::claiming);
  log.inner.settle();
  REQUIRE(a.poll(0ms));
  CHECK(a.role() == owner_role::leader);
  CHECK(a.epoch() == 1);
}

TEST_CASE("an owner polled on one thread while the log lands on another") {
  memory_log log{9, {.lose_ack = 0.2}};
  memory_replica_store store;
  partition_owner a{log, store, {.partition = 3, .self = {"a", 1}}};
  REQUIRE(a.open());
  std::atomic<bool> stop{false};
  std::thread lander{[&] {
    while (!stop)
      if (!log.step())
        std::this_thread::yield();
  }};
  a.claim();
  int effective = 0, submitted = 0;
  bool ok = perdure::test::wait_until([&] {
    REQUIRE(a.poll(1ms));
    if (a.role() == owner_role::leader && submitted < 50) {
      ++submitted;
      a.submit("g" + std::to_string(submitted),
               [&](result<log_offset> r) { effective += r.has_value(); });
    }
    return effective == 50;
  });
  stop = true;
  lander.join();
  CHECK(ok);
  CHECK(store.applied().size() == 50);
  CHECK(a.pending() == 0);
}

TEST_CASE("a take-over claims only over the epoch it was asked to replace") {
  memory_log log{1};
  node a{log, "a"}, b{log, "b"}, c{log, "c"};
  a.owner.claim();
  drive(log, a.owner, b.owner, c.owner);
  auto a_epoch = a.owner.epoch();
  // c's view is stale: a's partition was claimed anew by b meanwhile.
  b.owner.claim();
  drive(log, a.owner, b.owner);
  auto b_epoch = b.owner.epoch();
  REQUIRE(b_epoch != a_epoch);
  CHECK(b.owner.role() == owner_role::leader);
  CHECK(c.owner.state().epoch == a_epoch); // c has not read b's claim yet
  c.owner.claim(a_epoch);
  CHECK(c.owner.role() == owner_role::catching_up);
  drive(log, a.owner, b.owner, c.owner);
  // Caught up, c saw that a's claim is no longer in force: nothing taken.
  CHECK(c.owner.role() == owner_role::follower);
  CHECK(c.owner.counters().claims_dropped == 1);
  CHECK(c.owner.counters().claims_appended == 0);
  CHECK(b.owner.role() == owner_role::leader);
  CHECK(b.owner.epoch() == b_epoch);
  // Over the epoch in force, the take-over claims and leads.
  c.owner.claim(b_epoch);
  drive(log, a.owner, b.owner, c.owner);
  CHECK(c.owner.role() == owner_role::leader);
  CHECK(b.owner.role() == owner_role::follower);
  CHECK(c.owner.counters().claims_dropped == 1);
  // An unconditional claim made while a conditional one catches up wins.
  a.owner.claim(b_epoch); // stale: c leads now
  a.owner.claim();
  drive(log, a.owner, b.owner, c.owner);
  CHECK(a.owner.role() == owner_role::leader);
  CHECK(a.owner.counters().claims_dropped == 0);
}

TEST_CASE("a follower that is no standby skips applying, and a claim "
          "replays what it skipped first") {
  memory_log log{1};
  node a{log, "a"}, b{log, "b"};
  b.owner.claim();
  drive(log, b.owner, a.owner);
  REQUIRE(b.owner.role() == owner_role::leader); // epoch 0
  a.owner.set_standby(false);
  // a claims, but lets go before its claim is read back: the claim lands
  // (offset 1) while a only follows, then b claims again (offset 2).
  a.owner.claim();
  REQUIRE(a.owner.poll(0ms));
  REQUIRE(a.owner.role() == owner_role::claiming);
  a.owner.release();
  drive(log, b.owner, a.owner);
  CHECK(b.owner.role() == owner_role::follower); // fenced by a's claim
  b.owner.claim();
  drive(log, b.owner, a.owner);
  REQUIRE(b.owner.role() == owner_role::leader);
  REQUIRE(b.owner.epoch() == 2);
  outcome o1, o2;
  b.owner.submit("b1", into(o1));
  b.owner.submit("b2", into(o2));
  drive(log, b.owner, a.owner);
  REQUIRE(o1);
  REQUIRE(*o1);
  REQUIRE(o2);
  REQUIRE(*o2);
  // a read every record (it knows b owns the partition) but applied none
  // since it stopped being a standby.
  CHECK_FALSE(a.owner.tailing());
  CHECK(a.owner.view().owner == b.owner.state().owner);
  CHECK(a.owner.view().epoch == 2);
  CHECK(a.owner.view().next == b.owner.state().next);
  CHECK(a.owner.state().next < 2);
  CHECK(applied(a.store, "b1") == 0);
  // Asked to claim, a applies what it skipped; its own old claim (offset
  // 1), read again, does not make it lead (b's claim came after it).
  a.owner.claim();
  drive(log, b.owner, a.owner);
  CHECK(a.owner.tailing());
  CHECK(a.owner.role() == owner_role::leader);
  CHECK(a.owner.epoch() == 5);
  CHECK(b.owner.role() == owner_role::follower);
  CHECK(a.owner.counters().led == 1);
  CHECK(applied(a.store, "b1") == 1);
  CHECK(applied(a.store, "b2") == 1);
  CHECK(a.store.load()->next == b.store.load()->next);
  CHECK(a.store.applied().size() == b.store.applied().size());
}
