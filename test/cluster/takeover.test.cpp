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
