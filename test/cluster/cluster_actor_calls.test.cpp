// SPDX-License-Identifier: Apache-2.0
// Virtual actors called from any node (perdure/cluster/actor_calls.hpp):
// a call made on a node that does not lead the actor's partition runs on
// the owner, once per idempotency key, also after the partition moved to
// another node; call_async keeps the order of one actor's calls. On the
// 3-broker mock.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/cluster/actor_calls.hpp"

#include "node_test_util.hpp"
#include "temp_dir.hpp"

#include <stdexcept>
#include <string>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

struct ac_counter {
  int count = 0;
  int incr(int n) {
    count += n;
    return count;
  }
  int value() const {
    return count;
  }
  void fail() {
    throw std::runtime_error("refused by the test");
  }
  std::string label(std::string prefix) const {
    return prefix + std::to_string(count);
  }
};

struct ac_unserved {
  int n = 0;
  int get() const {
    return n;
  }
};

PERDURE_ACTOR(ac_counter, (count), (incr, value, fail, label))
PERDURE_ACTOR(ac_unserved, (n), (get))

engine_host_options ac_options(const kafka_mock_process& mock,
                               const std::filesystem::path& dir,
                               const std::string& id) {
  engine_host_options o;
  o.node = node_options_for(mock, "actors", dir, id);
  o.engine.actor_threads = 1;
  o.engine.stop_timeout = std::chrono::milliseconds{200};
  o.serve_address = "127.0.0.1:0";
  o.actor_calls = served_actors<ac_counter>();
  return o;
}

template <class R>
auto got(R r) {
  REQUIRE_MESSAGE(r, r.error().to_string());
  return std::move(r).value();
}

// The owner (one partition) runs it and the other host knows its door.
bool settled(engine_host& owner, engine_host& other) {
  if (!owner.engine_of(0))
    return false;
  auto parts = other.cluster_node().partitions();
  return parts.at(0).owner_endpoint
         == "127.0.0.1:" + std::to_string(*owner.door_port());
}

// Host a leads the log's one partition, host b knows a's door.
struct two_hosts {
  std::unique_ptr<kafka_mock_process> mock = start_mock("actors", 1);
  temp_dir dir;
  std::unique_ptr<engine_host> a, b;

  two_hosts() {
    auto ra = engine_host::start(ac_options(*mock, dir / "a", "a"));
    REQUIRE_MESSAGE(ra, ra.error().to_string());
    a = std::move(*ra);
    REQUIRE(wait_until([&] { return a->running().size() == 1; }, 60s));
    auto rb = engine_host::start(ac_options(*mock, dir / "b", "b"));
    REQUIRE_MESSAGE(rb, rb.error().to_string());
    b = std::move(*rb);
    REQUIRE(wait_until([&] { return settled(*a, *b); }, 60s));
  }
};

} // namespace

TEST_CASE("an actor is called from a node that does not lead it: on its "
          "owner, once per key, with the owner's errors") {
  two_hosts hosts;
  engine_host& owner = *hosts.a;
  engine_host& other = *hosts.b;

  host_actor<ac_counter> far{other, "counter-1"};
  CHECK(got(far.try_call(&ac_counter::incr, 5)) == 5); // created: T{}
  CHECK(far.call(&ac_counter::incr, 2) == 7);
  CHECK(got(far.try_call(&ac_counter::value)) == 7);
  CHECK(far.call(&ac_counter::label, std::string{"n="}) == "n=7");
  CHECK(other.counters().forwarded >= 4);
  // The same actor on the owner's engine, through its own API and
  // through host_actor on the owner (served locally).
  auto eng = got(owner.engine_for("counter-1"));
  CHECK(eng->actor<ac_counter>("counter-1").call(&ac_counter::value) == 7);
  host_actor<ac_counter> near{owner, "counter-1"};
  CHECK(near.call(&ac_counter::incr, 1) == 8);

  // A key seen before answers the logged result and runs nothing.
  auto keyed = far.with({"order-7"});
  CHECK(keyed.call(&ac_counter::incr, 10) == 18);
  CHECK(keyed.call(&ac_counter::incr, 10) == 18);
  CHECK(far.with({"order-7"}).call(&ac_counter::incr, 99) == 18);
  CHECK(far.call(&ac_counter::value) == 18);

  // The owner's errors arrive as they are.
  auto failed = far.try_call(&ac_counter::fail);
  REQUIRE_FALSE(failed);
  CHECK(failed.code() == errc::failed);
  CHECK(failed.message().find("refused by the test") != std::string::npos);
  CHECK_THROWS_AS(far.call(&ac_counter::fail), method_failed);
  auto unserved = host_actor<ac_unserved>{other, "unserved-1"}.try_call(
    &ac_unserved::get);
  REQUIRE_FALSE(unserved);
  CHECK(unserved.error().code() == errc::invalid_argument);
  CHECK(unserved.error().message().find("'ac_unserved' is not served")
        != std::string::npos);
  // An actor id that is a workflow's, or of another class: the owner's
  // answer, not a new actor.
  REQUIRE(eng->try_actor<ac_unserved>("plain-1"));
  auto other_class = host_actor<ac_counter>{other, "plain-1"}.try_call(
    &ac_counter::value);
  REQUIRE_FALSE(other_class);
  CHECK(other_class.error().code() == errc::type_mismatch);
  CHECK(far.call(&ac_counter::value) == 18); // nothing ran twice
  other.stop();
  owner.stop();
}

TEST_CASE("call_async from a node that does not lead the actor runs the "
          "calls on the owner in the order they were made") {
  two_hosts hosts;
  engine_host& owner = *hosts.a;
  engine_host& other = *hosts.b;

  host_actor<ac_counter> far{other, "counter-3"};
  // 20 calls at once: each answer is the sum so far, so any other order
  // than the calls' own would show.
  std::vector<call_handle<int>> calls;
  for (int i = 1; i <= 20; ++i)
    calls.push_back(far.call_async(&ac_counter::incr, i));
  auto value = far.call_async(&ac_counter::value); // after them
  for (int i = 1; i <= 20; ++i)
    CHECK(got(calls[i - 1].try_get()) == i * (i + 1) / 2);
  CHECK(value.get() == 210);
  CHECK(other.counters().forwarded >= 21);
  // Keyed: the second handle's call answers the first's logged result.
  auto k1 = far.with({"async-k"}).call_async(&ac_counter::incr, 5);
  auto k2 = far.with({"async-k"}).call_async(&ac_counter::incr, 5);
  CHECK(k1.get() == 215);
  CHECK(k2.get() == 215);
  // Errors arrive through the handle.
  auto failed = far.call_async(&ac_counter::fail);
  auto st = failed.try_get();
  REQUIRE_FALSE(st);
  CHECK(st.code() == errc::failed);
  CHECK_THROWS_AS(failed.get(), method_failed);
  // Two actors at once, and the owner calling its own (served locally).
  host_actor<ac_counter> second{other, "counter-4"};
  auto a = far.call_async(&ac_counter::incr, 1);
  auto b = second.call_async(&ac_counter::incr, 2);
  auto c = host_actor<ac_counter>{owner, "counter-4"}.call_async(
    &ac_counter::label, std::string{"n="});
  CHECK(a.get() == 216);
  CHECK(b.get() == 2);
  auto label = c.get();
  CHECK((label == "n=0" || label == "n=2"));
  CHECK(far.call(&ac_counter::value) == 216); // nothing ran twice
  // A stopped host sends nothing more: the handle says closed.
  other.stop();
  auto late = far.call_async(&ac_counter::incr, 1).try_get();
  REQUIRE_FALSE(late);
  CHECK(late.error().code() == errc::closed);
  CHECK(host_actor<ac_counter>{owner, "counter-3"}.call(&ac_counter::value)
        == 216);
  owner.stop();
}

TEST_CASE("a call tried again by its key after its actor's partition moved "
          "answers the logged result on the next owner") {
  two_hosts hosts;
  engine_host& owner = *hosts.a;
  engine_host& other = *hosts.b;

  host_actor<ac_counter> far{other, "counter-2"};
  CHECK(far.with({"k1"}).call(&ac_counter::incr, 3) == 3);
  CHECK(far.with({"k2"}).call(&ac_counter::incr, 4) == 7);
  owner.stop(); // its partition moves to `other`
  REQUIRE(wait_until([&] { return other.engine_of(0) != nullptr; }, 60s));
  // Tried again on the new owner (its replica of the log): logged, once.
  CHECK(far.with({"k1"}).call(&ac_counter::incr, 3) == 3);
  CHECK(far.with({"k2"}).call(&ac_counter::incr, 4) == 7);
  CHECK(far.call(&ac_counter::value) == 7);
  CHECK(far.with({"k3"}).call(&ac_counter::incr, 1) == 8);
  other.stop();
}
