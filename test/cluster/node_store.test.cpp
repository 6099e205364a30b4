// SPDX-License-Identifier: Apache-2.0
// node::store(p): a partition's event_log whose writes go through the
// Kafka log (the replicated durability): committed only once read back
// and applied, with the apply's per-batch results; refused on a node that
// does not lead; the same records, seqs and stamps on the standby; and
// the next owner goes on from them; commits larger together than one
// Kafka record split into several groups. On the 3-broker mock.

#include <doctest/doctest.h>

#include "perdure/cluster/node.hpp"
#include "perdure/eventlog/replicator.hpp"

#include "node_test_util.hpp"
#include "temp_dir.hpp"

#include <fmt/format.h>

#include <atomic>
#include <future>
#include <thread>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {


bool leads(const node& n, partition_id p) {
  auto parts = n.partitions();
  return p < parts.size() && parts[p].role == owner_role::leader;
}

// The records of `stream` as (seq, payload, writer).
std::vector<std::tuple<eventlog::seq_t, std::string, std::string>>
records(eventlog::event_log& log, std::string_view stream) {
  std::vector<std::tuple<eventlog::seq_t, std::string, std::string>> out;
  auto r = log.read(stream);
  if (r)
    for (auto& rec : *r)
      out.emplace_back(rec.seq, rec.payload, rec.writer);
  return out;
}

} // namespace

TEST_CASE("a node's partition store commits through the log, refuses "
          "where it does not lead, and the next owner goes on") {
  auto mock = start_mock("stores", 2);
  temp_dir dir;
  auto a = node::start(node_options_for(*mock, "stores", dir / "a", "a"));
  REQUIRE(a);
  REQUIRE(wait_until([&] { return leads(**a, 0) && leads(**a, 1); }, 60s));
  auto sa_ptr = (*a)->store(1);
  REQUIRE(sa_ptr);
  auto& sa = *sa_ptr;

  // Sequential appends with their optimistic checks, answered after apply.
  for (eventlog::seq_t i = 1; i <= 20; ++i) {
    auto seq = sa.append("order-7", 1, fmt::format("step {}", i), i - 1);
    REQUIRE_MESSAGE(seq.has_value(), seq.as_status().to_string());
    CHECK(*seq == i);
  }
  // A stale check is judged where the group is applied.
  auto stale = sa.append("order-7", 1, "stale", eventlog::seq_t{3});
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.as_status().code() == errc::conflict);
  // Stamped with the owner's node id, as every
  // replica stores it.
  auto mine = records(sa, "order-7");
  REQUIRE(mine.size() == 20);
  CHECK(std::get<2>(mine.front()) == "a");

  // Concurrent writers on both partitions.
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      auto s = (*a)->store(static_cast<partition_id>(t % 2));
      for (int i = 0; i < 25; ++i)
        if (!s->append(fmt::format("w-{}", t), 1, std::to_string(i)))
          ++failures;
    });
  for (auto& w : writers)
    w.join();
  CHECK(failures == 0);
  CHECK(records(*(*a)->store(0), "w-2").size() == 25);
  CHECK(records(*(*a)->store(1), "w-3").size() == 25);

  // A standby holds the same records, seqs and stamps, and refuses writes.
  auto b = node::start(node_options_for(*mock, "stores", dir / "b", "b"));
  REQUIRE(b);
  // Not leading (the group has not even assigned it anything yet, a
  // claim takes a round trip more): refused, nothing stored.
  bool led_before = leads(**b, 1);
  auto refused = (*b)->store(1)->append("order-7", 1, "not mine");
  if (!led_before && !leads(**b, 1)) {
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.as_status().code() == errc::busy);
  }
  auto a_next = (*a)->partitions()[1].next;
  REQUIRE(wait_until([&] { return (*b)->partitions()[1].next >= a_next; },
                     60s));
  CHECK(records(*(*b)->store(1), "order-7") == mine);
  CHECK(records(*(*b)->store(1), "w-3") == records(sa, "w-3"));

  // a leaves; b leads both and goes on from a's records.
  (*a)->stop();
  CHECK((*a)->store(1) == nullptr);
  // The store held beyond stop() is closed: writes fail, reads work.
  CHECK(sa.append("order-7", 1, "late").as_status().code() == errc::closed);
  CHECK(records(sa, "order-7") == mine);
  REQUIRE(wait_until([&] { return leads(**b, 0) && leads(**b, 1); }, 60s));
  auto next = (*b)->store(1)->append("order-7", 1, "after failover",
                                    eventlog::seq_t{20});
  REQUIRE_MESSAGE(next.has_value(), next.as_status().to_string());
  CHECK(*next == 21);
  auto theirs = records(*(*b)->store(1), "order-7");
  REQUIRE(theirs.size() == 21);
  CHECK(std::get<2>(theirs.back()) == "b");
  (*b)->stop();
}

TEST_CASE("a node refuses store options with a replicator of their own") {
  node_options o;
  o.log.brokers = "127.0.0.1:1";
  o.log.app = "x";
  o.node_id = "a";
  o.store.dir = "/nonexistent-perdure-node-test";
  struct none final : eventlog::group_replicator {
    void replicate(std::string, group_done done) override {
      done(unexpected{errc::io, "unused"});
    }
  };
  o.store.replicator = std::make_shared<none>();
  auto n = node::start(o);
  REQUIRE_FALSE(n);
  CHECK(n.error().code() == errc::invalid_argument);
}

TEST_CASE("commits larger together than a Kafka record go through the log "
          "as several groups, and one larger alone is refused") {
  auto mock = start_mock("large", 1);
  temp_dir dir;
  auto o = node_options_for(*mock, "large", dir / "a", "a");
  o.log.properties["message.max.bytes"] = "20000";
  auto a = node::start(o);
  REQUIRE(a);
  REQUIRE(wait_until([&] { return leads(**a, 0); }, 60s));
  auto store = (*a)->store(0);
  REQUIRE(store);
  // 12 commits of 6,000 bytes submitted at once: together they are many
  // times one record, each fits one.
  std::vector<std::future<result<eventlog::commit_info>>> futs;
  for (int i = 0; i < 12; ++i) {
    eventlog::write_batch b;
    b.append(fmt::format("doc-{}", i), 1, std::string(6000, 'd'));
    futs.push_back(store->submit(std::move(b)));
  }
  for (auto& f : futs) {
    auto r = f.get();
    CHECK_MESSAGE(r.has_value(), r.as_status().to_string());
  }
  for (int i = 0; i < 12; ++i)
    CHECK(records(*store, fmt::format("doc-{}", i)).size() == 1);
  auto big = store->append("huge", 1, std::string(30000, 'h'));
  REQUIRE_FALSE(big.has_value());
  CHECK(big.as_status().code() == errc::invalid_argument);
  CHECK(records(*store, "huge").empty());
  // The log goes on.
  CHECK(store->append("after", 1, "small").has_value());
  (*a)->stop();
}
