// SPDX-License-Identifier: Apache-2.0
// The claim and fencing rule, record by record.

#include "perdure/cluster/fencing.hpp"

#include <doctest/doctest.h>

using namespace perdure::cluster;

namespace {

const node_identity a{"a", 1};
const node_identity b{"b", 1};
const node_identity a2{"a", 2}; // node a restarted

log_entry claim(node_identity who) {
  return claim_entry{std::move(who)};
}

log_entry group(log_offset epoch, node_identity who, std::uint64_t seq) {
  return group_entry{epoch, std::move(who), seq, "x"};
}

} // namespace

TEST_CASE("a claim's offset becomes the epoch, owned by its claimant") {
  fence_state s;
  CHECK(s.epoch == no_epoch);
  CHECK(judge(s, 5, claim(a)) == verdict::claim);
  CHECK(s.epoch == 5);
  CHECK(s.owner == a);
  CHECK(s.next == 6);
  CHECK(s.last_sequence == 0);
}

TEST_CASE("a group before any claim is fenced") {
  fence_state s;
  CHECK(judge(s, 0, group(0, a, 1)) == verdict::fenced);
  CHECK(s.next == 1);
}

TEST_CASE("the claimant's groups of the current epoch take effect") {
  fence_state s;
  (void)judge(s, 0, claim(a));
  CHECK(judge(s, 1, group(0, a, 1)) == verdict::effective);
  CHECK(judge(s, 2, group(0, a, 2)) == verdict::effective);
  CHECK(s.last_sequence == 2);
}

TEST_CASE("a group written under an older epoch is fenced") {
  fence_state s;
  (void)judge(s, 0, claim(a));
  CHECK(judge(s, 1, group(0, a, 1)) == verdict::effective);
  (void)judge(s, 2, claim(b));
  // a zombie's group lands after b's claim
  CHECK(judge(s, 3, group(0, a, 2)) == verdict::fenced);
  CHECK(judge(s, 4, group(2, b, 1)) == verdict::effective);
}

TEST_CASE("a group naming a later epoch than the current one is fenced") {
  fence_state s;
  (void)judge(s, 0, claim(a));
  CHECK(judge(s, 1, group(9, a, 1)) == verdict::fenced);
}

TEST_CASE("a group of the current epoch by another writer is foreign") {
  fence_state s;
  (void)judge(s, 0, claim(a));
  CHECK(judge(s, 1, group(0, b, 1)) == verdict::foreign_writer);
  CHECK(judge(s, 2, group(0, a2, 1)) == verdict::foreign_writer);
  CHECK(s.last_sequence == 0);
}

TEST_CASE("a duplicated group takes effect once") {
  fence_state s;
  (void)judge(s, 0, claim(a));
  CHECK(judge(s, 1, group(0, a, 1)) == verdict::effective);
  CHECK(judge(s, 2, group(0, a, 1)) == verdict::duplicate);
  CHECK(judge(s, 3, group(0, a, 2)) == verdict::effective);
  CHECK(judge(s, 4, group(0, a, 1)) == verdict::duplicate);
}

TEST_CASE("an older group landing after a newer one is inert") {
  fence_state s;
  (void)judge(s, 0, claim(a));
  CHECK(judge(s, 1, group(0, a, 3)) == verdict::effective);
  CHECK(judge(s, 2, group(0, a, 2)) == verdict::duplicate);
  CHECK(judge(s, 3, group(0, a, 4)) == verdict::effective);
}

TEST_CASE("a new claim starts the sequence over, even the same owner's") {
  fence_state s;
  (void)judge(s, 0, claim(a));
  CHECK(judge(s, 1, group(0, a, 5)) == verdict::effective);
  CHECK(judge(s, 2, claim(a)) == verdict::claim);
  CHECK(s.epoch == 2);
  CHECK(s.last_sequence == 0);
  CHECK(judge(s, 3, group(0, a, 6)) == verdict::fenced);
  CHECK(judge(s, 4, group(2, a, 7)) == verdict::effective);
}

TEST_CASE("a restarted node's old incarnation is fenced by its new claim") {
  fence_state s;
  (void)judge(s, 0, claim(a));
  (void)judge(s, 1, claim(a2));
  CHECK(judge(s, 2, group(0, a, 1)) == verdict::fenced);
  CHECK(judge(s, 3, group(1, a, 1)) == verdict::foreign_writer);
  CHECK(judge(s, 4, group(1, a2, 1)) == verdict::effective);
}

TEST_CASE("offsets may have gaps") {
  fence_state s;
  (void)judge(s, 10, claim(a));
  CHECK(judge(s, 14, group(10, a, 1)) == verdict::effective);
  CHECK(s.next == 15);
}

TEST_CASE("verdicts have stable names") {
  CHECK(to_string(verdict::effective) == "effective");
  CHECK(to_string(verdict::foreign_writer) == "foreign_writer");
}
