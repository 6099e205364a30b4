// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/partition_replica.hpp"

#include <fmt/format.h>

namespace perdure::cluster {

// -- memory_replica_store -----------------------------------------------------

result<fence_state> memory_replica_store::load() {
  std::lock_guard guard{mutex_};
  return state_;
}

status memory_replica_store::apply(std::span<const applied_group> groups,
                                   const fence_state& after) {
  std::lock_guard guard{mutex_};
  if (fail_next_) {
    fail_next_ = false;
    return status{errc::io, "apply failed (simulated)"};
  }
  applied_.insert(applied_.end(), groups.begin(), groups.end());
  state_ = after;
  return {};
}

std::vector<applied_group> memory_replica_store::applied() const {
  std::lock_guard guard{mutex_};
  return applied_;
}

void memory_replica_store::fail_next_apply() {
  std::lock_guard guard{mutex_};
  fail_next_ = true;
}

// -- partition_replica --------------------------------------------------------

partition_replica::partition_replica(partition_log& log, replica_store& store)
    : log_(log)
    , store_(store) {}

status partition_replica::open() {
  auto loaded = store_.load();
  if (!loaded)
    return loaded.error();
  state_ = *loaded;
  return {};
}

result<std::vector<judged_record>>
partition_replica::poll(std::chrono::milliseconds wait, std::size_t max) {
  // Not applying: on from the newest record judged, into the view only.
  const auto& from = applying_ ? state_ : view();
  auto records = log_.read(from.next, max, wait);
  if (!records)
    return records.error();
  // Judge into a copy: the replica's state moves only once the store took
  // the batch.
  auto next = from;
  std::vector<judged_record> judged;
  std::vector<applied_group> groups;
  for (auto& rec : *records) {
    if (rec.offset < next.next)
      continue; // a log that returns what was asked for never does this
    auto entry = decode(rec.bytes);
    if (!entry) {
      if (!judged.empty())
        break;
      return status{entry.error().code(),
                    fmt::format("record at offset {}: {}", rec.offset,
                                entry.error().message())};
    }
    judged_record j;
    j.offset = rec.offset;
    j.kind = kind_of(*entry);
    j.decision = judge(next, rec.offset, *entry);
    if (auto* c = std::get_if<claim_entry>(&*entry)) {
      j.who = c->claimant;
    } else {
      auto& g = std::get<group_entry>(*entry);
      j.who = g.writer;
      j.epoch = g.epoch;
      j.sequence = g.sequence;
      if (applying_ && j.decision == verdict::effective && !g.bytes.empty())
        groups.push_back({rec.offset, std::move(g), next.owner_endpoint});
    }
    j.epoch_after = next.epoch;
    j.owner_after = next.owner;
    j.replayed = applying_ && rec.offset < ahead_.next;
    judged.push_back(std::move(j));
  }
  if (judged.empty())
    return judged;
  if (!applying_) {
    ahead_ = std::move(next);
    return judged;
  }
  if (auto st = store_.apply(groups, next); !st)
    return st;
  state_ = std::move(next);
  return judged;
}

} // namespace perdure::cluster
