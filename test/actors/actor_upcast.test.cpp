// SPDX-License-Identifier: Apache-2.0
// Event schema evolution: an event stored in an old shape is upcast by the
// application's perdure_upcast (PERDURE_EVENT_VERSIONS), in the actor's
// fold and in projections; a shape declared nowhere stays an error (see
// actor_signature.test.cpp). Each namespace is one version of the code.

#include <doctest/doctest.h>

#include <perdure/perdure.hpp>
#include "perdure/actors/projection.hpp"

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <string>

using namespace perdure;

namespace u1 { // amounts in cents, as integers
struct paid {
  long cents = 0;
};
PERDURE_EVENT(paid, cents)
struct till : event_sourced<till, paid> {
  long cents = 0;
  void apply(const paid& e) {
    cents += e.cents;
  }
  long pay(long c) {
    emit(paid{c});
    return cents;
  }
};
PERDURE_ACTOR(till, (cents), (pay))
} // namespace u1

namespace u2 { // amounts as decimal text with a currency
struct paid_v1 { // the shape u1 stored
  long cents = 0;
};
PERDURE_FIELDS(paid_v1, cents)

struct paid {
  std::string amount; // "12.34"
  std::string currency;
};
PERDURE_EVENT(paid, amount, currency)
PERDURE_EVENT_VERSIONS(paid, paid_v1)

paid perdure_upcast(const paid_v1& old) {
  return {std::to_string(old.cents / 100) + "."
            + (old.cents % 100 < 10 ? "0" : "")
            + std::to_string(old.cents % 100),
          "EUR"};
}

long cents_of(const std::string& amount) {
  auto dot = amount.find('.');
  return std::stol(amount.substr(0, dot)) * 100
         + std::stol(amount.substr(dot + 1));
}

struct till : event_sourced<till, paid> {
  long cents = 0;
  std::string currency;
  void apply(const paid& e) {
    cents += cents_of(e.amount);
    currency = e.currency;
  }
  long pay_text(std::string amount, std::string cur) {
    emit(paid{std::move(amount), std::move(cur)});
    return cents;
  }
  std::string in() const {
    return currency;
  }
  long total() const {
    return cents;
  }
};
PERDURE_ACTOR(till, (cents, currency), (pay_text, in, total))
} // namespace u2

TEST_CASE("an event stored in an old shape is upcast at activation and in "
          "projections") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path()}};
    auto t = eng.actor<u1::till>("t");
    t.call(&u1::till::pay, 1205L);
    t.call(&u1::till::pay, 307L);
  }
  engine eng{{.storage = dir.path()}};
  auto t = eng.get_actor<u2::till>("t");
  CHECK(t.call(&u2::till::total) == 1512);
  CHECK(t.call(&u2::till::in) == "EUR");
  CHECK(t.call(&u2::till::pay_text, std::string{"1.01"}, std::string{"CHF"})
        == 1613);
  // A projection sees the old events upcast too.
  std::atomic<long> seen{0};
  std::atomic<int> events{0};
  auto p = project<u2::till>(eng, "sums", [&](const projected_event& e) {
    auto v = e.as<u2::paid>();
    REQUIRE(v);
    seen += u2::cents_of(v->amount);
    ++events;
  });
  REQUIRE(test::wait_until([&] { return events.load() == 3; }));
  CHECK(seen.load() == 1613);
  CHECK(p.error());
}
