// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/takeover.hpp"

#include "perdure/cluster/partition_map.hpp"

#include <set>

namespace perdure::cluster {

namespace {

// The one order both the take-over and the standbys rank nodes by, for
// partition `p`: the higher xxh64(node id, seed = p) first, then the
// smaller id. So a gone owner's successor is its first standby.
bool ranks_before(const std::string& a, const std::string& b,
                  partition_id p) {
  auto sa = xxh64(a, p), sb = xxh64(b, p);
  return sa > sb || (sa == sb && a < b);
}

} // namespace

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
    for (const auto& n : live)
      if (!best || ranks_before(n, *best, s.partition))
        best = &n;
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
    std::size_t ahead = 0;
    for (const auto& n : live)
      if (n != owners[p]
          && ranks_before(n, self, static_cast<partition_id>(p)))
        ++ahead;
    out[p] = ahead < k;
  }
  return out;
}

} // namespace perdure::cluster
