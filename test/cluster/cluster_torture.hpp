// SPDX-License-Identifier: Apache-2.0
#pragma once

// The cluster torture's final check (cluster_torture_check.cpp): the raw
// log read apart from the fencing code, against every node's stores and
// every answer the nodes gave.

#include "perdure/cluster/partition_log.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace perdure::torture {

/// What the nodes answered, by payload (payloads are unique).
struct answer_book {
  /// Told "ok": partition and offset.
  std::map<std::string, std::pair<int, cluster::log_offset>> acked;
  /// Told "failed" (conflict, io): never to be applied.
  std::set<std::string> failed;
  /// Told "unknown", or in flight on a node that was killed.
  std::set<std::string> unknown;
  /// Submitted to a node while it was paused past its session timeout
  /// (answered after it resumed: refused, unless it led again first).
  std::set<std::string> zombie;
};

/// Counts of the raw log's records, over all partitions.
struct log_figures {
  std::uint64_t records = 0;
  std::uint64_t claims = 0;
  std::uint64_t effective = 0; ///< groups applied (barriers included)
  std::uint64_t fenced = 0;    ///< groups of an older epoch (inert)
  std::uint64_t foreign = 0;   ///< of the epoch, another writer (inert)
  std::uint64_t duplicate = 0; ///< sequence not above the last (inert)
  /// Stores left behind the log's end by nodes that do not tail their
  /// partition (--standbys), each an exact prefix of the rule.
  std::uint64_t stores_behind = 0;
};

/// A node's last "tailing" and "applied" answers (empty: none yet).
struct node_answers {
  std::vector<bool> tailing;
  std::vector<cluster::log_offset> applied;
};

/// The end's catch-up: every node that tails a partition has applied it
/// to `ends`, and each partition is tailed by `tailed_by` nodes at least
/// (its owner and its standbys). Fills `caught[i][p]` with what node i's
/// store of p must reach (`ends[p]` where it tails p, else 0). Returns
/// the nodes to ask again: those not caught up, or every node while a
/// partition has too few tailing (views not settled); empty when done.
std::vector<std::size_t>
caught_up_to(const std::vector<cluster::log_offset>& ends,
             const std::vector<node_answers>& nodes, std::size_t tailed_by,
             std::vector<std::vector<cluster::log_offset>>& caught);

/// Reads every partition of the log of `app` at `brokers` to its end and
/// checks: node i's store of partition p reached `caught_up[i][p]`, and
/// every store holds exactly the groups the rule lets through below its
/// resume point, in order (so no stale epoch's group is applied, and
/// stores at equal offsets are equal); `tailed_by` stores of each
/// partition at least reached the log's end as the driver saw it; each
/// acknowledged payload is applied once, at the offset told; no payload
/// told failure is applied. Returns the problems found (empty: all is
/// well) and fills `figures`.
std::vector<std::string>
check_cluster(const std::string& brokers, const std::string& app,
              const std::vector<std::filesystem::path>& node_dirs,
              const std::vector<std::vector<cluster::log_offset>>& caught_up,
              std::size_t tailed_by, const answer_book& book,
              log_figures& figures);

/// Every partition's end offset now; empty when the log cannot be read.
std::vector<cluster::log_offset> end_offsets(const std::string& brokers,
                                             const std::string& app);

} // namespace perdure::torture
