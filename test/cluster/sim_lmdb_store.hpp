// SPDX-License-Identifier: Apache-2.0
#pragma once

// The simulation's store on disk: an lmdb_replica_store that a node's
// crash reopens, and whose injected failure applies a prefix of the groups
// and then fails (the store's own transactions are per group).

#include "perdure/cluster/lmdb_replica_store.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace perdure::cluster::sim {

class sim_lmdb_store final : public replica_store {
 public:
  explicit sim_lmdb_store(std::filesystem::path dir) : dir_(std::move(dir)) {
    reopen();
  }

  /// Closes and opens the store again, as a restarted process would.
  void reopen() {
    store_.reset();
    eventlog::options o;
    o.dir = dir_;
    o.mode = eventlog::durability::process;
    o.initial_map_size = std::size_t{1} << 20;
    o.map_guard = false;
    store_ = std::move(*lmdb_replica_store::open(o));
  }

  result<fence_state> load() override {
    return store_->load();
  }

  status apply(std::span<const applied_group> groups,
               const fence_state& after) override {
    if (!fail_next_ || groups.empty())
      return store_->apply(groups, after);
    fail_next_ = false;
    // Store the first half, then fail: a failure between two groups.
    auto k = groups.size() / 2;
    if (k > 0) {
      auto& last = groups[k - 1];
      fence_state mid{last.offset + 1, last.group.epoch, last.group.writer,
                      last.group.sequence};
      if (auto st = store_->apply(groups.first(k), mid); !st)
        return st;
    }
    return {errc::io, "apply failed after a prefix (simulated)"};
  }

  void fail_next_apply() {
    fail_next_ = true;
  }

  /// The payloads of stream "s", in order.
  std::vector<std::string> payloads() const {
    std::vector<std::string> out;
    auto recs = store_->log().read("s");
    if (recs)
      for (auto& r : *recs)
        out.push_back(r.payload);
    return out;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<lmdb_replica_store> store_;
  bool fail_next_ = false;
};

/// The group bytes the LMDB simulation submits for `payload`.
inline std::string sim_group(const std::string& payload, std::uint64_t n) {
  eventlog::write_batch b;
  b.append("s", 1, payload);
  std::vector<eventlog::write_batch> v;
  v.push_back(std::move(b));
  return encode_group_bytes(static_cast<eventlog::time_ns>(n), v);
}

/// The payload inside group bytes made by sim_group, or the bytes.
inline std::string sim_payload(const std::string& bytes) {
  auto g = eventlog::decode_group(bytes);
  if (!g || g->batches.empty() || g->batches[0].ops().empty())
    return bytes;
  return g->batches[0].ops()[0].data;
}

} // namespace perdure::cluster::sim
