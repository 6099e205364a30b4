// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/takeover.hpp"

#include "perdure/cluster/partition_map.hpp"

#include <algorithm>
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

std::vector<bool> standby_partitions(const std::vector<std::string>& owners,
                                     const std::string& self, std::size_t k) {
  std::set<std::string> live{self};
  for (const auto& o : owners)
    if (!o.empty())
      live.insert(o);
  std::vector<bool> out(owners.size(), false);
  for (std::size_t p = 0; p < owners.size(); ++p) {
    if (owners[p] == self)
      continue;
    auto mine = xxh64(self, static_cast<partition_id>(p));
    // Ranked before `self`: a higher score, or the same and a smaller id.
    std::size_t ahead = 0;
    for (const auto& n : live) {
      if (n == self || n == owners[p])
        continue;
      auto score = xxh64(n, static_cast<partition_id>(p));
      if (score > mine || (score == mine && n < self))
        ++ahead;
    }
    out[p] = ahead < k;
  }
  return out;
}

} // namespace perdure::cluster
