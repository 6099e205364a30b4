// SPDX-License-Identifier: Apache-2.0
#pragma once

// The mark of a cluster partition's store (perdure/cluster/
// lmdb_replica_store.hpp; FORMAT.md, "Cluster partition stores"): the
// stream whose metadata holds the fencing rule's state, written in the
// transaction of every group the store applies from the cluster's Kafka
// log. A store that has it is a replica of that log: the log, not the
// store, is the truth, so nothing may write to the store but the replica
// (a record written beside it would reach no other replica and be lost at
// the next failover). The tools read such a store and refuse to change it.

#include "perdure/eventlog/event_log.hpp"

#include <string_view>

namespace perdure::cluster_records {

/// The stream whose metadata holds a partition store's fence state.
inline constexpr std::string_view fence_stream = "perdure.cluster/fence";

/// Whether `log` is a cluster partition's store (it holds fence_stream).
/// Errors: those of event_log::info other than not_found.
inline result<bool> is_partition_store(const eventlog::event_log& log) {
  auto info = log.info(fence_stream);
  if (info)
    return true;
  if (info.error() == errc::not_found)
    return false;
  return std::move(info).error();
}

} // namespace perdure::cluster_records
