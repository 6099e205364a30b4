// SPDX-License-Identifier: Apache-2.0
// partition_replicator: an engine's commits to a partition's store, through
// the partition's owner and the log (node_replicator.hpp).

#include "node_replicator.hpp"

#include <fmt/format.h>

namespace perdure::cluster {

void partition_replicator::replicate(std::string group, group_done done) {
  {
    std::lock_guard lock{mu_};
    ++pending_;
  }
  submit_(std::move(group), [this, done = std::move(done)](
                              result<log_offset> where) {
    decided(where, done);
  });
}

void partition_replicator::applied(
  log_offset offset, std::span<const result<eventlog::commit_info>> results) {
  std::lock_guard lock{mu_};
  if (pending_ == 0)
    return; // another writer's group, or ours already decided
  results_.insert_or_assign(offset, std::vector<result<eventlog::commit_info>>(
                                      results.begin(), results.end()));
}

void partition_replicator::decided(const result<log_offset>& where,
                                   const group_done& done) {
  result<std::vector<result<eventlog::commit_info>>> outcome =
    unexpected{errc::io, "no outcome"};
  {
    std::lock_guard lock{mu_};
    --pending_;
    if (!where) {
      outcome = unexpected{where.error()};
    } else if (auto it = results_.find(*where); it != results_.end()) {
      outcome = std::move(it->second);
      // Ours are decided in log order: what lies before is decided too.
      results_.erase(results_.begin(), std::next(it));
    } else {
      outcome = unexpected{
        errc::io, fmt::format("the group at offset {} was applied but its "
                              "results were not seen",
                              *where)};
    }
    if (pending_ == 0)
      results_.clear();
  }
  done(std::move(outcome));
}

} // namespace perdure::cluster
