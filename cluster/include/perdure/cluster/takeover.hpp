// SPDX-License-Identifier: Apache-2.0
#pragma once

// Which partitions a node claims at once when another node's process is
// gone (its door's connection to this node closed: the process died),
// before the consumer group notices (session.timeout.ms, then a
// rebalance). The group's next assignment still decides who keeps each
// partition: an assigned node claims after the taker, and the log orders
// the claims.

#include "perdure/cluster/node.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace perdure::cluster {

/// The partitions `self` should claim now that the process whose door
/// was at `gone_endpoint` is gone: those whose last claim is that
/// process's (owner_endpoint == gone_endpoint) and that `self` does not
/// lead, each given to one successor picked by rendezvous hashing
/// (highest xxh64(node id, seed = partition)) among `self` and the nodes
/// that own another partition under another endpoint in `parts`; neither
/// `self` nor any node is a candidate under a node id the gone process
/// had (a restarted node does not take over from its dead incarnation).
/// Every node with the same view picks the same successor; different
/// views at worst make two claims, and the later one leads. A view older
/// than the log is harmless when the claims are made with
/// node::take_over(p, epoch): a partition claimed anew meanwhile is left
/// alone. Empty when `gone_endpoint` is empty.
std::vector<partition_id>
partitions_to_take_over(const std::vector<partition_status>& parts,
                        const std::string& self, std::string_view gone_endpoint);

/// Per partition, whether `self` is one of its `k` standbys: the `k` nodes
/// ranked first by the hashing above (highest xxh64(node id, seed =
/// partition), then the smaller id) among `self` and the nodes named in
/// `owners`, the partition's own owner left out. `owners[p]` is the node
/// id of partition p's owner ("" before any claim). The successor
/// partitions_to_take_over picks when an owner's process is gone is the
/// partition's first standby, so its claim needs no replay. Nodes with
/// different views at worst both tail a partition.
std::vector<bool> standby_partitions(const std::vector<std::string>& owners,
                                     const std::string& self, std::size_t k);

} // namespace perdure::cluster
