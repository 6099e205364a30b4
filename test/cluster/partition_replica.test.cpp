// SPDX-License-Identifier: Apache-2.0
// A replica reads the log through the fencing rule into its store and
// resumes where the store says.

#include "perdure/cluster/partition_replica.hpp"

#include "perdure/cluster/memory_log.hpp"
#include "perdure/cluster/partition_map.hpp"

#include <doctest/doctest.h>

using namespace perdure;
using namespace perdure::cluster;
using namespace std::chrono_literals;

namespace {

const node_identity a{"a", 1};
const node_identity b{"b", 1};

void put(memory_log& log, const log_entry& e) {
  log.append(encode(e), [](result<log_offset>) {});
  log.settle();
}

void put_raw(memory_log& log, std::string bytes) {
  log.append(std::move(bytes), [](result<log_offset>) {});
  log.settle();
}

std::vector<std::string> applied_bytes(const memory_replica_store& s) {
  std::vector<std::string> out;
  for (auto& g : s.applied())
    out.push_back(g.group.bytes);
  return out;
}

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("a replica applies the effective groups and skips the rest") {
  memory_log log{1};
  put(log, claim_entry{a});             // 0
  put(log, group_entry{0, a, 1, "a1"}); // 1
  put(log, claim_entry{b});             // 2
  put(log, group_entry{0, a, 2, "a2"}); // 3 zombie
  put(log, group_entry{2, b, 1, "b1"}); // 4
  put(log, group_entry{2, b, 1, "b1"}); // 5 duplicate
  put(log, group_entry{2, b, 2, ""});   // 6 barrier
  memory_replica_store store;
  partition_replica r{log, store};
  REQUIRE(r.open());
  auto judged = r.poll(0ms);
  REQUIRE(judged);
  REQUIRE(judged->size() == 7);
  CHECK((*judged)[3].decision == verdict::fenced);
  CHECK((*judged)[3].owner_after == b);
  CHECK((*judged)[5].decision == verdict::duplicate);
  CHECK((*judged)[6].decision == verdict::effective);
  CHECK(applied_bytes(store) == strings{"a1", "b1"});
  CHECK(store.applied()[1].offset == 4);
  CHECK(r.state().next == 7);
  CHECK(r.state().epoch == 2);
  CHECK(r.state().last_sequence == 2);
  CHECK(r.poll(0ms)->empty());
}

TEST_CASE("a new replica resumes from the store and applies nothing twice") {
  memory_log log{1};
  put(log, claim_entry{a});
  put(log, group_entry{0, a, 1, "a1"});
  memory_replica_store store;
  {
    partition_replica r{log, store};
    REQUIRE(r.open());
    REQUIRE(r.poll(0ms));
  }
  put(log, group_entry{0, a, 1, "a1"}); // a duplicate after the restart
  put(log, group_entry{0, a, 2, "a2"});
  partition_replica r{log, store};
  REQUIRE(r.open());
  CHECK(r.state().next == 2);
  REQUIRE(r.poll(0ms));
  CHECK(applied_bytes(store) == strings{"a1", "a2"});
}

TEST_CASE("small batches give the same result as one big batch") {
  memory_log log{1};
  put(log, claim_entry{a});
  for (std::uint64_t i = 1; i <= 5; ++i)
    put(log, group_entry{0, a, i, std::to_string(i)});
  memory_replica_store big, small;
  partition_replica rb{log, big}, rs{log, small};
  REQUIRE(rb.open());
  REQUIRE(rs.open());
  REQUIRE(rb.poll(0ms));
  while (!rs.poll(0ms, 2)->empty()) {
  }
  CHECK(applied_bytes(big) == applied_bytes(small));
  CHECK(rb.state() == rs.state());
}

TEST_CASE("a failed apply changes nothing and the next poll retries") {
  memory_log log{1};
  put(log, claim_entry{a});
  put(log, group_entry{0, a, 1, "a1"});
  memory_replica_store store;
  partition_replica r{log, store};
  REQUIRE(r.open());
  store.fail_next_apply();
  auto failed = r.poll(0ms);
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == errc::io);
  CHECK(r.state().next == 0);
  CHECK(store.applied().empty());
  REQUIRE(r.poll(0ms));
  CHECK(applied_bytes(store) == strings{"a1"});
}

TEST_CASE("a record that does not decode stops the replica there") {
  memory_log log{1};
  put(log, claim_entry{a});
  put(log, group_entry{0, a, 1, "a1"});
  put_raw(log, "garbage");
  put(log, group_entry{0, a, 2, "a2"});
  memory_replica_store store;
  partition_replica r{log, store};
  REQUIRE(r.open());
  auto first = r.poll(0ms);
  REQUIRE(first);
  CHECK(first->size() == 2);
  CHECK(applied_bytes(store) == strings{"a1"});
  for (int i = 0; i < 2; ++i) {
    auto stuck = r.poll(0ms);
    REQUIRE_FALSE(stuck);
    CHECK(stuck.error() == errc::corruption);
    CHECK(stuck.error().message().find("offset 2") != std::string::npos);
  }
  CHECK(r.state().next == 2);
}

TEST_CASE("a record of a newer format stops the replica as unsupported") {
  memory_log log{1};
  auto bytes = encode(claim_entry{a});
  bytes[8] = 9;
  auto sum = xxh64(std::string_view(bytes).substr(8));
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  put_raw(log, bytes);
  memory_replica_store store;
  partition_replica r{log, store};
  REQUIRE(r.open());
  auto out = r.poll(0ms);
  REQUIRE_FALSE(out);
  CHECK(out.error() == errc::unsupported);
}

TEST_CASE("a read error is returned and the resume point kept") {
  memory_log log{1};
  put(log, claim_entry{a});
  memory_replica_store store;
  partition_replica r{log, store};
  REQUIRE(r.open());
  log.close();
  auto out = r.poll(0ms);
  REQUIRE_FALSE(out);
  CHECK(out.error() == errc::closed);
  CHECK(r.state().next == 0);
}

TEST_CASE("a replica that does not apply follows the claims and leaves "
          "the store alone") {
  memory_log log{1};
  put(log, claim_entry{a, "a:1"});      // 0
  put(log, group_entry{0, a, 1, "a1"}); // 1
  memory_replica_store store;
  partition_replica r{log, store};
  REQUIRE(r.open());
  REQUIRE(r.poll(0ms)->size() == 2); // applied
  r.set_applying(false);
  CHECK_FALSE(r.applying());
  put(log, claim_entry{b, "b:1"});      // 2
  put(log, group_entry{2, b, 1, "b1"}); // 3
  put(log, group_entry{0, a, 2, "a2"}); // 4 zombie
  auto judged = r.poll(0ms);
  REQUIRE(judged);
  REQUIRE(judged->size() == 3);
  CHECK((*judged)[0].kind == entry_kind::claim);
  CHECK((*judged)[1].decision == verdict::effective);
  CHECK((*judged)[2].decision == verdict::fenced);
  for (auto& j : *judged)
    CHECK_FALSE(j.replayed);
  // The store and state() stay where applying stopped; view() moved on.
  CHECK(applied_bytes(store) == strings{"a1"});
  CHECK(r.state().next == 2);
  CHECK(r.state().owner == a);
  CHECK(r.view().next == 5);
  CHECK(r.view().epoch == 2);
  CHECK(r.view().owner == b);
  CHECK(r.view().owner_endpoint == "b:1");
  CHECK(store.load()->next == 2);
  CHECK(r.poll(0ms)->empty()); // nothing new past the view
}

TEST_CASE("applying again replays what was only read: the store ends as "
          "a replica's that applied all along") {
  memory_log log{1};
  memory_replica_store skipping_store, full_store;
  partition_replica skipping{log, skipping_store}, full{log, full_store};
  REQUIRE(skipping.open());
  REQUIRE(full.open());
  put(log, claim_entry{a});             // 0
  put(log, group_entry{0, a, 1, "a1"}); // 1
  REQUIRE(skipping.poll(0ms));
  skipping.set_applying(false);
  put(log, group_entry{0, a, 2, "a2"}); // 2
  put(log, claim_entry{b});             // 3
  put(log, group_entry{3, b, 1, "b1"}); // 4
  REQUIRE(skipping.poll(0ms)->size() == 3);
  skipping.set_applying(true);
  put(log, group_entry{3, b, 2, "b2"}); // 5
  // Two records a poll: the replay spans polls, each marked by offset.
  std::vector<judged_record> replayed;
  for (int i = 0; i < 10; ++i) {
    auto j = skipping.poll(0ms, 2);
    REQUIRE(j);
    if (j->empty())
      break;
    replayed.insert(replayed.end(), j->begin(), j->end());
    // The view never goes back while the store catches up.
    CHECK(skipping.view().next == std::max<log_offset>(5, skipping.state().next));
    CHECK(skipping.view().owner == b);
  }
  REQUIRE(replayed.size() == 4);
  CHECK(replayed[0].offset == 2);
  CHECK(replayed[0].replayed);
  CHECK(replayed[1].replayed);
  CHECK(replayed[2].replayed);
  CHECK(replayed[3].offset == 5);
  CHECK_FALSE(replayed[3].replayed);
  REQUIRE(full.poll(0ms));
  CHECK(applied_bytes(skipping_store) == applied_bytes(full_store));
  CHECK(applied_bytes(full_store) == strings{"a1", "a2", "b1", "b2"});
  CHECK(skipping.state() == full.state());
  CHECK(skipping.view() == full.state());
}
