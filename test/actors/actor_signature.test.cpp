// SPDX-License-Identifier: Apache-2.0
// The stored signature of an actor is compared at activation (both kinds),
// and an event-sourced actor whose stored event no longer decodes stays
// unloaded with an error naming the actor, seq and event type. Each
// namespace below is one version of the application's code (the classes
// share their registered names).

#include <doctest/doctest.h>

#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

using namespace perdure;

namespace v1 {
struct tally {
  long n = 0;
  long add(long by) {
    return n += by;
  }
};
PERDURE_ACTOR(tally, (n), (add))

struct noted {
  long amount = 0;
};
PERDURE_EVENT(noted, amount)
struct notes : event_sourced<notes, noted> {
  long total = 0;
  void apply(const noted& e) {
    total += e.amount;
  }
  long note(long a) {
    emit(noted{a});
    return total;
  }
};
PERDURE_ACTOR(notes, (total), (note))
} // namespace v1

namespace v2 { // add() takes a string now; notes' event changed its field
struct tally {
  long n = 0;
  long add(std::string by) {
    return n += static_cast<long>(by.size());
  }
  long twice(long by) {
    return n += 2 * by;
  }
};
PERDURE_ACTOR(tally, (n), (add, twice))

struct noted {
  std::string amount;
};
PERDURE_EVENT(noted, amount)
struct notes : event_sourced<notes, noted> {
  long total = 0;
  void apply(const noted& e) {
    total += static_cast<long>(e.amount.size());
  }
  long note(long a) {
    emit(noted{std::to_string(a)});
    return total;
  }
};
PERDURE_ACTOR(notes, (total), (note))
} // namespace v2

namespace v3 { // compatible: a method and an event field added
struct tally {
  long n = 0;
  long add(long by) {
    return n += by;
  }
  long twice(long by) {
    return n += 2 * by;
  }
};
PERDURE_ACTOR(tally, (n), (add, twice))

struct noted {
  long amount = 0;
  std::string memo = "none";
};
PERDURE_EVENT(noted, amount, memo)
struct notes : event_sourced<notes, noted> {
  long total = 0;
  std::string last_memo;
  void apply(const noted& e) {
    total += e.amount;
    last_memo = e.memo;
  }
  long note(long a) {
    emit(noted{a, "v3"});
    return total;
  }
  std::string memo() const {
    return last_memo;
  }
};
PERDURE_ACTOR(notes, (total, last_memo), (note, memo))

// Same name, other kind: a state-logged `notes`.
namespace logged {
struct notes {
  long total = 0;
  long note(long a) {
    return total += a;
  }
};
PERDURE_ACTOR(notes, (total), (note))
} // namespace logged
} // namespace v3

namespace v4 { // twice(), added by v3, takes a string now
struct tally {
  long n = 0;
  long add(long by) {
    return n += by;
  }
  long twice(std::string by) {
    return n += 2 * static_cast<long>(by.size());
  }
};
PERDURE_ACTOR(tally, (n), (add, twice))
} // namespace v4

TEST_CASE("a mutating method whose signature changed is a signature "
          "mismatch naming it") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    CHECK(eng.actor<v1::tally>("t").call(&v1::tally::add, 5L) == 5);
  }
  engine eng{{.storage = dir.path()}};
  auto r = eng.try_get_actor<v2::tally>("t");
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::type_mismatch);
  auto msg = r.error().message();
  CHECK(msg.find("'t'") != std::string::npos);
  CHECK(msg.find("method 'add'") != std::string::npos);
  CHECK(msg.find("tup<i64>->i64") != std::string::npos);
  CHECK(msg.find("tup<str>->i64") != std::string::npos);
  CHECK_THROWS_AS(eng.get_actor<v2::tally>("t"), signature_mismatch);
  // A method added, the others unchanged: compatible.
  auto ok = eng.get_actor<v3::tally>("t");
  CHECK(ok.call(&v3::tally::twice, 1L) == 7);
}

TEST_CASE("a method added compatibly is compared from then on") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    CHECK(eng.actor<v1::tally>("t").call(&v1::tally::add, 5L) == 5);
  }
  {
    engine eng{{.storage = dir.path()}};
    auto ok = eng.get_actor<v3::tally>("t");
    CHECK(ok.call(&v3::tally::twice, 1L) == 7);
  }
  engine eng{{.storage = dir.path()}};
  auto r = eng.try_get_actor<v4::tally>("t");
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::type_mismatch);
  CHECK(r.error().message().find("method 'twice'") != std::string::npos);
}

TEST_CASE("an event-sourced actor is not read as a state-logged one") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    eng.actor<v1::notes>("n").call(&v1::notes::note, 1L);
  }
  engine eng{{.storage = dir.path()}};
  auto r = eng.try_get_actor<v3::logged::notes>("n");
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::type_mismatch);
  CHECK(r.error().message().find("event-sourced") != std::string::npos);
}

TEST_CASE("an event field added still folds, and a retyped one leaves the "
          "actor unloaded with an error naming actor, seq and type") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    REQUIRE(configure_actors(eng, {.events_per_snapshot = 1000}));
    auto n = eng.actor<v1::notes>("n");
    n.call(&v1::notes::note, 3L);
    n.call(&v1::notes::note, 4L); // seq 3
  }
  {
    engine eng{{.storage = dir.path()}};
    for (int i = 0; i < 2; ++i) { // and again: it stays unloaded
      auto r = eng.try_get_actor<v2::notes>("n");
      REQUIRE_FALSE(r);
      CHECK(r.error() == errc::type_mismatch);
      auto msg = r.error().message();
      INFO(msg);
      CHECK(msg.find("actor 'n'") != std::string::npos);
      CHECK(msg.find("seq 2") != std::string::npos);
      CHECK(msg.find("'noted'") != std::string::npos);
      CHECK(msg.find("PERDURE_EVENT_VERSIONS") != std::string::npos);
      CHECK(active_actors(eng) == 0);
    }
  }
  engine eng{{.storage = dir.path()}};
  auto n = eng.get_actor<v3::notes>("n");
  CHECK(n.call(&v3::notes::memo) == "none"); // the field's default
  CHECK(n.call(&v3::notes::note, 5L) == 12);
  CHECK(n.call(&v3::notes::memo) == "v3");
}
