// SPDX-License-Identifier: Apache-2.0
// Failures and idempotency: a throwing method, the calls behind it, keys
// repeated in the same engine and after a restart; a creation the log
// refused.

#include <doctest/doctest.h>

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/replicator.hpp"
#include "temp_dir.hpp"
#include "test_actors.hpp"

#include <vector>

using namespace perdure;
using test::counter;

TEST_CASE("a throwing method keeps the committed state and the calls behind it run") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto c = eng.actor<counter>("f");
  c.call(&counter::incr, 1);
  auto a = c.call_async(&counter::incr, 10);
  auto bad = c.call_async(&counter::fail_after, 1000);
  auto b = c.call_async(&counter::incr, 100);
  CHECK(a.get() == 11);
  auto r = bad.try_get();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::failed);
  CHECK(r.error().message().find("refused 1000") != std::string::npos);
  CHECK(r.error().message().find("fail_after") != std::string::npos);
  CHECK_THROWS_AS(bad.get(), method_failed);
  // The call behind the failed one ran on the last committed state.
  CHECK(b.get() == 111);
  CHECK(c.call(&counter::value) == 111);
}

TEST_CASE("a failed call's key returns the same error without running again") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto c = eng.actor<counter>("fk").with({.key = "once"});
  auto first = c.try_call(&counter::fail_after, 5);
  REQUIRE_FALSE(first);
  auto again = c.try_call(&counter::fail_after, 5);
  REQUIRE_FALSE(again);
  CHECK(again.error().message() == first.error().message());
}

TEST_CASE("a repeated key returns the logged result without running the method") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto c = eng.actor<counter>("k");
  int before = test::executions;
  CHECK(c.with({.key = "order-1"}).call(&counter::incr, 5) == 5);
  CHECK(c.with({.key = "order-1"}).call(&counter::incr, 5) == 5);
  CHECK(c.with({.key = "order-2"}).call(&counter::incr, 5) == 10);
  CHECK(test::executions - before == 2);
  CHECK(c.call(&counter::value) == 10);
}

TEST_CASE("an idempotency key repeated after a restart runs nothing") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    auto c = eng.actor<counter>("kr");
    CHECK(c.with({.key = "kafka-7"}).call(&counter::incr, 3) == 3);
    CHECK(c.call(&counter::incr, 1) == 4);
  }
  engine eng{{.storage = dir.path()}};
  auto c = eng.get_actor<counter>("kr");
  int before = test::executions;
  CHECK(c.with({.key = "kafka-7"}).call(&counter::incr, 3) == 3);
  CHECK(test::executions == before);
  CHECK(c.call(&counter::value) == 4);
}

TEST_CASE("keys survive snapshots within the key window") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    REQUIRE(configure_actors(eng, {.snapshot_every = 3, .key_window = 16}));
    auto c = eng.actor<counter>("ks");
    for (int i = 0; i < 10; ++i)
      c.with({.key = "k" + std::to_string(i)}).call(&counter::incr, 1);
    CHECK(eng.event_log()->info("actor/ks")->snapshot_seq > 0);
  }
  engine eng{{.storage = dir.path()}};
  auto c = eng.get_actor<counter>("ks");
  int before = test::executions;
  for (int i = 0; i < 10; ++i)
    CHECK(c.with({.key = "k" + std::to_string(i)}).call(&counter::incr, 1)
          == i + 1);
  CHECK(test::executions == before);
  CHECK(c.call(&counter::value) == 10);
}

TEST_CASE("a key with a NUL byte survives a snapshot whole") {
  using namespace std::string_literals;
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    REQUIRE(configure_actors(eng, {.snapshot_every = 2, .key_window = 16}));
    auto c = eng.actor<counter>("nul");
    c.with({.key = "a\0b"s}).call(&counter::incr, 1);
    c.with({.key = "a"}).call(&counter::incr, 1);
    c.with({.key = "c"}).call(&counter::incr, 1);
    CHECK(eng.event_log()->info("actor/nul")->snapshot_seq > 0);
  }
  engine eng{{.storage = dir.path()}};
  auto c = eng.get_actor<counter>("nul");
  int before = test::executions;
  CHECK(c.with({.key = "a\0b"s}).call(&counter::incr, 1) == 1);
  CHECK(c.with({.key = "a"}).call(&counter::incr, 1) == 2);
  CHECK(test::executions == before);
  CHECK(c.with({.key = "a\0c"s}).call(&counter::incr, 1) == 4); // new key
}

TEST_CASE("configure_actors is refused once actors are in use") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  eng.actor<counter>("x");
  CHECK(configure_actors(eng, {}) == errc::busy);
}

namespace {

// A replicated log that refuses every group with `code`: busy as a
// cluster's fenced owner's does, or conflict (another writer's check).
class refusing_replicator final : public eventlog::group_replicator {
 public:
  explicit refusing_replicator(errc code) : code_(code) {}
  void replicate(std::string, group_done done) override {
    done(unexpected{code_, "partition 0 is owned by node-b"});
  }

 private:
  errc code_;
};

} // namespace

TEST_CASE("an actor whose creation the log refused is busy, not a conflict, "
          "and nothing of it is stored") {
  for (auto code : {errc::busy, errc::conflict}) {
    auto name = std::string{to_string(code)};
    CAPTURE(name);
    test::temp_dir dir;
    eventlog::options lo;
    lo.dir = dir / "log";
    lo.replicator = std::make_shared<refusing_replicator>(code);
    auto log = eventlog::event_log::open(std::move(lo));
    REQUIRE_MESSAGE(log, log.as_status().to_string());
    engine eng{{.storage = dir / "engine",
                .event_log = std::shared_ptr<eventlog::event_log>{
                  std::move(*log)}}};
    auto made = eng.try_actor<counter>("fenced");
    REQUIRE_FALSE(made);
    CHECK(made.error().code() == errc::busy);
    CHECK(made.error().message().find("owned by node-b") != std::string::npos);
    CHECK(eng.event_log()->info("actor/fenced").error() == errc::not_found);
  }
}
