// SPDX-License-Identifier: Apache-2.0
#pragma once

// A replica of one partition: reads the partition's log from its applied
// offset, runs the fencing rule (fencing.hpp) and applies the groups that
// take effect to a replica_store. Owner, standby and CLI all read through
// it, so they compute the same applied sequence.

#include "perdure/cluster/fencing.hpp"
#include "perdure/cluster/log_entry.hpp"
#include "perdure/cluster/partition_log.hpp"
#include "perdure/eventlog/status.hpp"

#include <chrono>
#include <cstddef>
#include <mutex>
#include <span>
#include <vector>

namespace perdure::cluster {

/// A group that took effect, as handed to the store.
struct applied_group {
  log_offset offset = 0; ///< where it is in the log
  group_entry group;     ///< the record (epoch, writer, sequence, bytes)
  /// The door of the claim in force (its writer's), so that a store
  /// committing group by group stores the whole fence state after each.
  std::string endpoint = {};
};

/// Where a replica's applied state lives. The real store is the
/// partition's LMDB environment; apply() is deterministic (no user code,
/// no clock): replaying the same log gives the same state.
class replica_store {
 public:
  virtual ~replica_store() = default;

  /// The state stored by the last apply(): where to resume and the rule's
  /// state there; a default fence_state for a new store. Errors: io,
  /// corruption.
  virtual result<fence_state> load() = 0;

  /// Applies `groups` (in order; possibly none) and stores `after` as the
  /// resume point, atomically: all of it or nothing. Barriers (groups with
  /// empty bytes) are not passed. Errors: io, full; then nothing changed.
  virtual status apply(std::span<const applied_group> groups,
                       const fence_state& after) = 0;
};

/// A replica_store in memory, for tests and the simulation. It outlives
/// the replicas that use it, like a store on disk outlives a process.
/// Thread-safe.
class memory_replica_store final : public replica_store {
 public:
  result<fence_state> load() override;
  status apply(std::span<const applied_group> groups,
               const fence_state& after) override;

  /// Every group applied so far, in order.
  std::vector<applied_group> applied() const;

  /// Makes the next apply() fail with io (and change nothing).
  void fail_next_apply();

 private:
  mutable std::mutex mutex_;
  fence_state state_;
  std::vector<applied_group> applied_;
  bool fail_next_ = false;
};

/// One record as judged by a replica, without its bytes.
struct judged_record {
  log_offset offset = 0;
  verdict decision = verdict::claim;
  entry_kind kind = entry_kind::claim;
  /// The claimant (claim) or the writer (group).
  node_identity who;
  /// A group's epoch and sequence (0 for a claim).
  log_offset epoch = 0;
  std::uint64_t sequence = 0;
  /// The state right after this record (epoch and owner in force).
  log_offset epoch_after = no_epoch;
  node_identity owner_after;
  /// Judged once already while the replica only read (set_applying):
  /// read again now to be applied. Its effect on the rule's state is the
  /// same; a reader that acted on it then does not act again.
  bool replayed = false;
};

/// Reads one partition's log into a replica_store. Not thread-safe: one
/// thread polls it (the log and the store may be shared).
class partition_replica {
 public:
  /// @pre `log` and `store` outlive the replica.
  partition_replica(partition_log& log, replica_store& store);

  /// Loads the store's resume point. Errors: those of load().
  status open();

  /// Reads up to `max` records from the resume point (waiting up to `wait`
  /// for the first), judges them and applies the effective ones with the
  /// new resume point in one store transaction. Returns the records judged
  /// (empty when none came). A record that does not decode stops the
  /// replica there: the records before it are applied and returned, and the
  /// next poll returns the decode error (corruption, unsupported) without
  /// skipping it. Errors: those of read() and apply(); after an error the
  /// resume point is unchanged. Not applying (set_applying): reads on
  /// from view().next instead, judges into view() only, and the store is
  /// not touched. @pre open() succeeded.
  result<std::vector<judged_record>> poll(std::chrono::milliseconds wait,
                                          std::size_t max = 512);

  /// Whether poll() applies what it reads (the default) or only judges it
  /// (a node that is no standby of the partition: it follows the claims,
  /// who owns the partition and where, without the cost of applying every
  /// group). Applying again, poll() reads again from the store's resume
  /// point; the records judged meanwhile come back `replayed`.
  void set_applying(bool on) noexcept {
    applying_ = on;
  }
  bool applying() const noexcept {
    return applying_;
  }

  /// The rule's state at the resume point (what the store holds).
  const fence_state& state() const noexcept {
    return state_;
  }

  /// The rule's state after the newest record judged, applied or not:
  /// state() unless records were judged past it without being applied.
  const fence_state& view() const noexcept {
    return ahead_.next > state_.next ? ahead_ : state_;
  }

 private:
  partition_log& log_;
  replica_store& store_;
  fence_state state_;
  // Past state_ when records were judged without being applied.
  fence_state ahead_;
  bool applying_ = true;
};

} // namespace perdure::cluster
