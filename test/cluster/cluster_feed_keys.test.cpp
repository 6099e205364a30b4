// SPDX-License-Identifier: Apache-2.0
// A cluster feed's actor calls are keyed by their Kafka coordinates
// (sequenced_feed_key): the actor keeps the highest offset it applied from
// each Kafka partition in its own log, so a record sent again is applied
// once however many calls the actor took since (no key window). Driven
// here through the owner's handler (served_actors), as a feed's request
// arrives, on one engine; the feed itself on the mock: cluster_feed.test.

#include "perdure/cluster/actor_calls.hpp"
#include "perdure/cluster/kafka_feed.hpp"
#include "perdure/eventlog/records/actor.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace std::chrono_literals;

// Every amount it applied, in order: a call run twice shows.
struct fk_ledger {
  std::vector<long> entries;
  std::size_t apply(long amount) {
    if (amount < 0)
      throw std::runtime_error{"a negative amount"};
    entries.push_back(amount);
    return entries.size();
  }
  std::vector<long> all() const {
    return entries;
  }
};

PERDURE_ACTOR(fk_ledger, (entries), (apply, all))

namespace {

kafka_record record_at(std::int32_t partition, std::int64_t offset) {
  kafka_record r;
  r.topic = "payments";
  r.partition = partition;
  r.offset = offset;
  r.key = "acct-1";
  return r;
}

// One forwarded mutating call of fk_ledger::apply, as the actor's owner
// gets it from a feed or a caller: the answer's bytes, or the error.
struct owner_side {
  engine& eng;
  actor_call_handler serve = served_actors<fk_ledger>();

  result<std::string> apply(const std::string& key, long amount) {
    auto& cls = detail::class_of<fk_ledger>();
    return serve(eng, "acct-1", "apply",
                 encode_actor_call(cls.name, key,
                                   codec::encode(std::tuple<long>{amount})),
                 30s);
  }
  long balance() {
    long sum = 0;
    for (auto v : entries())
      sum += v;
    return sum;
  }
  std::vector<long> entries() {
    return eng.get_actor<fk_ledger>("acct-1").call(&fk_ledger::all);
  }
};

} // namespace

TEST_CASE("sequenced_feed_key: offset x 256 + attempt from the record's "
          "Kafka partition, hashed when long, within 200 bytes") {
  kafka_source src;
  src.group = "g-pay";
  src.topic = "payments";
  auto k = sequenced_feed_key(src, record_at(3, 41), 2);
  CHECK(k == "in:" + std::to_string(41 * 256 + 2) + ":kafka/g-pay/payments/3");
  auto parsed = actor_records::parse_sequenced_key(k);
  REQUIRE(parsed);
  CHECK(parsed->seq == 41 * 256 + 2);
  CHECK(parsed->source == "kafka/g-pay/payments/3");
  CHECK_FALSE(parsed->told);
  CHECK(parsed->offset_of("acct-1") ==
        "actor-source/acct-1/kafka/g-pay/payments/3");
  // Offset 0, attempt 1: seq 1 (0 is no seq).
  CHECK(actor_records::parse_sequenced_key(
            sequenced_feed_key(src, record_at(0, 0), 1))
            ->seq == 1);
  // A long group: the source is hashed, the partition kept.
  kafka_source long_src = src;
  long_src.group = std::string(300, 'g');
  auto h = sequenced_feed_key(long_src, record_at(5, 7), 1);
  CHECK(h.size() <= 200);
  auto hp = actor_records::parse_sequenced_key(h);
  REQUIRE(hp);
  CHECK(hp->seq == 7 * 256 + 1);
  CHECK(hp->source.starts_with("kafka#"));
  CHECK(hp->source.ends_with("/5"));
  CHECK(sequenced_feed_key(long_src, record_at(6, 7), 1) != h);
  // Beyond what a seq holds: the windowed key of feed_key.
  CHECK(sequenced_feed_key(src, record_at(3, 41), 256) ==
        feed_key(src, record_at(3, 41), 256));
  CHECK(sequenced_feed_key(src, record_at(3, std::int64_t{1} << 55), 1) ==
        feed_key(src, record_at(3, std::int64_t{1} << 55), 1));
  // Not sequenced keys.
  CHECK_FALSE(actor_records::parse_sequenced_key("in:0:src"));
  CHECK_FALSE(actor_records::parse_sequenced_key("in:12:"));
  CHECK_FALSE(actor_records::parse_sequenced_key("in:x1:src"));
  CHECK_FALSE(actor_records::parse_sequenced_key("kafka/g/t/0/5"));
  CHECK(actor_records::parse_sequenced_key("out:3:teller")->told);
}

TEST_CASE("an actor applies each Kafka partition's records once by offset, "
          "beyond its key window, across a restart, and a failed attempt "
          "lets the next run") {
  test::temp_dir dir;
  kafka_source src;
  src.group = "g-pay";
  src.topic = "payments";
  auto key = [&](std::int32_t p, std::int64_t offset, int attempt = 1) {
    return sequenced_feed_key(src, record_at(p, offset), attempt);
  };
  {
    engine eng{{.storage = dir.path()}};
    // Two keys kept: the window is gone after a few calls.
    REQUIRE(configure_actors(eng, {.snapshot_every = 1, .key_window = 2}));
    owner_side owner{eng};
    CHECK(owner.apply(key(0, 10), 1).has_value());
    CHECK(owner.apply(key(0, 12), 2).has_value());
    for (int i = 0; i < 6; ++i) // plain keys push the feed's out
      REQUIRE(owner.apply("plain-" + std::to_string(i), 100).has_value());
    CHECK(owner.balance() == 603);
    // A plain key beyond the window runs again (what the window allows)...
    REQUIRE(owner.apply("plain-0", 100).has_value());
    CHECK(owner.balance() == 703);
    // ... a record of partition 0 at or below offset 12 does not.
    auto again = owner.apply(key(0, 10), 1);
    REQUIRE(again.has_value());
    CHECK(again->empty()); // applied before: no result to answer
    CHECK(owner.apply(key(0, 12), 2).has_value());
    CHECK(owner.apply(key(0, 11), 50).has_value()); // below: a zombie's
    CHECK(owner.balance() == 703);
    // Partition 1's records are another source; partition 0 goes on.
    CHECK(owner.apply(key(1, 0), 1000).has_value());
    CHECK(owner.apply(key(0, 13), 4).has_value());
    CHECK(owner.balance() == 1707);
    // A failed attempt is applied (logged); the next attempt runs.
    auto failed = owner.apply(key(0, 14, 1), -1);
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code() == errc::failed);
    // Within the window the failed attempt answers as logged...
    auto failed_again = owner.apply(key(0, 14, 1), -1);
    REQUIRE_FALSE(failed_again.has_value());
    CHECK(failed_again.error().code() == errc::failed);
    CHECK(owner.apply(key(0, 14, 2), 8).has_value());
    CHECK(owner.balance() == 1715);
    CHECK(owner.entries() == std::vector<long>{1, 2, 100, 100, 100, 100, 100,
                                               100, 100, 1000, 4, 8});
  }
  engine eng{{.storage = dir.path()}};
  REQUIRE(configure_actors(eng, {.snapshot_every = 1, .key_window = 2}));
  owner_side owner{eng};
  // The highest offsets are in the log: nothing applies twice after a
  // restart either.
  for (auto [p, off] : {std::pair{0, 10}, {0, 13}, {1, 0}})
    CHECK(owner.apply(key(p, off), 5000).has_value());
  auto failed = owner.apply(key(0, 14, 1), 5000); // in the window: as logged
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().code() == errc::failed);
  CHECK(owner.balance() == 1715);
  CHECK(owner.apply(key(0, 15), 5).has_value());
  CHECK(owner.balance() == 1720);
  CHECK(owner.entries().size() == 13);
}
