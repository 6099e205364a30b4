// SPDX-License-Identifier: Apache-2.0
#pragma once

// Ids by partition and who knows whose door: what the tests and
// benchmarks of several engine_hosts ask (two_partitions.hpp, the
// cluster benchmarks).

#include "perdure/cluster/engine_host.hpp"

#include <string>

namespace perdure::test {

/// The n-th id `prefix` + K (K = 0, 1, ...) that lives in partition p.
inline std::string id_in(const cluster::partition_map& map,
                         cluster::partition_id p, const std::string& prefix,
                         int n = 0) {
  for (int i = 0;; ++i) {
    auto id = prefix + std::to_string(i);
    if (map.partition_of(id) == p && n-- == 0)
      return id;
  }
}

/// Whether `from` knows `owner` leads partition p (its door in the claim).
inline bool knows(cluster::engine_host& from, cluster::engine_host& owner,
                  cluster::partition_id p) {
  auto parts = from.cluster_node().partitions();
  auto port = owner.door_port();
  return owner.engine_of(p) && port &&
         parts.at(p).owner_endpoint == "127.0.0.1:" + std::to_string(*port);
}

} // namespace perdure::test
