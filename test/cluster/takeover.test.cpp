// SPDX-License-Identifier: Apache-2.0
// partitions_to_take_over: when a process's door is gone, each of its
// partitions goes to exactly one live node, whichever node computes it.

#include <doctest/doctest.h>

#include "perdure/cluster/takeover.hpp"

#include <set>

using namespace perdure;
using namespace perdure::cluster;

namespace {

partition_status owned(partition_id p, const std::string& node,
                       const std::string& endpoint) {
  partition_status s;
  s.partition = p;
  s.epoch = 10 + p;
  s.owner = {node, 1};
  s.owner_endpoint = endpoint;
  return s;
}

// Partitions 0-11: a owns 0-3, b 4-7, c 8-11.
std::vector<partition_status> view() {
  std::vector<partition_status> parts;
  for (partition_id p = 0; p < 12; ++p) {
    auto node = p < 4 ? "a" : p < 8 ? "b" : "c";
    parts.push_back(owned(p, node, std::string{"127.0.0.1:"} + node));
  }
  return parts;
}

} // namespace

TEST_CASE("a gone process's partitions go to exactly one live node each") {
  auto parts = view();
  std::set<partition_id> taken;
  std::size_t total = 0;
  for (std::string self : {"b", "c"}) {
    auto mine = partitions_to_take_over(parts, self, "127.0.0.1:a");
    total += mine.size();
    for (auto p : mine) {
      CHECK(p < 4);
      taken.insert(p);
    }
  }
  CHECK(total == 4);
  CHECK(taken == std::set<partition_id>{0, 1, 2, 3});
  // Not spread by chance alone: 64 partitions of a gone node split
  // between two survivors, neither takes none.
  std::vector<partition_status> many;
  for (partition_id p = 0; p < 64; ++p)
    many.push_back(owned(p, p % 3 == 0 ? "b" : p % 3 == 1 ? "c" : "a",
                         p % 3 == 0   ? "e:b"
                         : p % 3 == 1 ? "e:c"
                                      : "e:a"));
  auto to_b = partitions_to_take_over(many, "b", "e:a");
  auto to_c = partitions_to_take_over(many, "c", "e:a");
  CHECK(to_b.size() + to_c.size() == 21);
  CHECK_FALSE(to_b.empty());
  CHECK_FALSE(to_c.empty());
}

TEST_CASE("what is not taken over") {
  auto parts = view();
  CHECK(partitions_to_take_over(parts, "b", "").empty());
  CHECK(partitions_to_take_over(parts, "b", "127.0.0.1:nobody").empty());
  // A partition this node already leads (it claimed it meanwhile).
  for (auto& s : parts)
    s.role = owner_role::leader;
  CHECK(partitions_to_take_over(parts, "b", "127.0.0.1:a").empty());
}

TEST_CASE("a restarted node does not take over from its dead incarnation") {
  // a's old process (endpoint 127.0.0.1:a) is gone and a runs again under a
  // new endpoint: its stale view names its dead incarnation as owner.
  auto parts = view();
  auto taken_by_a = partitions_to_take_over(parts, "a", "127.0.0.1:a");
  CHECK(taken_by_a.empty());
  // The live nodes split a's partitions between them, as before.
  auto to_b = partitions_to_take_over(parts, "b", "127.0.0.1:a");
  auto to_c = partitions_to_take_over(parts, "c", "127.0.0.1:a");
  CHECK(to_b.size() + to_c.size() == 4);
}

TEST_CASE("each partition has k standbys, and a gone owner's successor is "
          "its first") {
  // 5 nodes own 40 partitions (node i owns p with p % 5 == i).
  const std::vector<std::string> nodes{"a", "b", "c", "d", "e"};
  std::vector<std::string> owners;
  std::vector<partition_status> parts;
  for (partition_id p = 0; p < 40; ++p) {
    owners.push_back(nodes[p % 5]);
    parts.push_back(owned(p, nodes[p % 5], "e:" + nodes[p % 5]));
  }
  for (std::size_t k : {0u, 1u, 2u, 4u, 9u}) {
    CAPTURE(k);
    std::vector<std::size_t> count(owners.size(), 0);
    std::vector<std::size_t> load(nodes.size(), 0);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      auto mine = standby_partitions(owners, nodes[n], k);
      REQUIRE(mine.size() == owners.size());
      for (std::size_t p = 0; p < owners.size(); ++p)
        if (mine[p]) {
          CHECK(owners[p] != nodes[n]); // an owner is no standby of its own
          ++count[p];
          ++load[n];
        }
    }
    for (auto c : count)
      CHECK(c == std::min<std::size_t>(k, nodes.size() - 1));
    if (k == 1) // spread: every node stands by for some partitions
      for (auto l : load)
        CHECK(l > 0);
  }
  // k = 1: when a's process is gone, every partition of a goes to the node
  // that was its standby, whichever survivor computes it.
  for (const auto& self : {"b", "c", "d", "e"}) {
    auto standby = standby_partitions(owners, self, 1);
    auto taken = partitions_to_take_over(parts, self, "e:a");
    std::set<partition_id> expected;
    for (std::size_t p = 0; p < owners.size(); ++p)
      if (owners[p] == "a" && standby[p])
        expected.insert(static_cast<partition_id>(p));
    CHECK(std::set<partition_id>(taken.begin(), taken.end()) == expected);
  }
}

TEST_CASE("a node that owns nothing counts itself: it may stand by too") {
  const std::vector<std::string> owners{"a", "b", "", "a"};
  auto ranks_of = [&](const std::string& self) {
    return standby_partitions(owners, self, 1);
  };
  // With every node's own view, each partition has a standby, perhaps two
  // (the idle node "z" sees itself, the others do not see it).
  for (std::size_t p = 0; p < owners.size(); ++p) {
    std::size_t n = 0;
    for (const auto& self : {"a", "b", "z"})
      n += ranks_of(self)[p] ? 1 : 0;
    CHECK(n >= 1);
    CHECK(n <= 2);
  }
  // Everyone, with as many standbys as nodes.
  for (auto t : standby_partitions(owners, "z", 3))
    CHECK(t);
}
