// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/takeover.hpp"

#include "perdure/cluster/partition_map.hpp"

#include <set>

namespace perdure::cluster {

std::vector<partition_id>
partitions_to_take_over(const std::vector<partition_status>& parts,
                        const std::string& self,
                        std::string_view gone_endpoint) {
  std::vector<partition_id> out;
  if (gone_endpoint.empty())
    return out;
  // The gone process's node id: a node restarted under the same id (a new
  // endpoint) is not a candidate until it owns something again, not even
  // for itself (its view is its dead incarnation's; the group assigns it).
  std::set<std::string> gone_ids, live;
  for (const auto& s : parts)
    if (s.owner_endpoint == gone_endpoint)
      gone_ids.insert(s.owner.node);
  if (!gone_ids.count(self))
    live.insert(self);
  for (const auto& s : parts)
    if (!s.owner.node.empty() && s.owner_endpoint != gone_endpoint
        && !gone_ids.count(s.owner.node))
      live.insert(s.owner.node);
  for (const auto& s : parts) {
    if (s.owner_endpoint != gone_endpoint || s.role == owner_role::leader)
      continue;
    const std::string* best = nullptr;
    std::uint64_t best_score = 0;
    for (const auto& n : live) {
      auto score = xxh64(n, s.partition);
      if (!best || score > best_score || (score == best_score && n < *best)) {
        best = &n;
        best_score = score;
      }
    }
    if (best && *best == self)
      out.push_back(s.partition);
  }
  return out;
}

} // namespace perdure::cluster
