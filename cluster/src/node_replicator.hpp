// SPDX-License-Identifier: Apache-2.0
#pragma once
// The replicator of one partition's store (eventlog::group_replicator):
// what an engine commits to node::store(p) is submitted to the partition's
// owner as a group, and completes with the per-batch results of the apply
// that committed it once the log returned it. Those results come from the
// store's observer (called on the poll thread while the owner applies),
// the offset from the owner's answer right after (same thread).

#include "perdure/cluster/node.hpp"
#include "perdure/eventlog/replicator.hpp"

#include <map>
#include <mutex>
#include <span>
#include <vector>

namespace perdure::cluster {

class partition_replicator final : public eventlog::group_replicator {
 public:
  /// Hands a group to the node (node::impl::submit).
  using submit_fn = std::function<void(std::string, node::group_done)>;

  /// `max_group_bytes`: the largest group the log takes (0: no limit).
  partition_replicator(submit_fn submit, std::size_t max_group_bytes)
    : submit_(std::move(submit)), max_group_bytes_(max_group_bytes) {
  }

  void replicate(std::string group, group_done done) override;
  std::size_t max_group_bytes() const override {
    return max_group_bytes_;
  }

  /// The store's observer: the group at `offset` was applied with these
  /// results (any writer's; kept only while groups of ours are pending).
  void applied(log_offset offset,
               std::span<const result<eventlog::commit_info>> results);

 private:
  void decided(const result<log_offset>& where, const group_done& done);

  submit_fn submit_;
  std::size_t max_group_bytes_;
  std::mutex mu_;
  std::size_t pending_ = 0;
  std::map<log_offset, std::vector<result<eventlog::commit_info>>> results_;
};

} // namespace perdure::cluster
