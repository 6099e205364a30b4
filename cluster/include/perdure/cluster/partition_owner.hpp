// SPDX-License-Identifier: Apache-2.0
#pragma once

// One node's side of owning one partition: it follows the log, claims the
// partition when asked, leads once it reads its own claim back, appends
// groups tagged with its epoch, and steps down when it reads a newer claim.
// A group's fate is decided only by reading the log ("apply only what the
// log returns"), never by an append's ack.

#include "perdure/cluster/fencing.hpp"
#include "perdure/cluster/partition_log.hpp"
#include "perdure/cluster/partition_map.hpp"
#include "perdure/cluster/partition_replica.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace perdure::cluster {

/// Where a partition_owner stands.
enum class owner_role : std::uint8_t {
  follower,    ///< applies what the log says; does not write
  catching_up, ///< asked to claim: reading up to the log's end first
  claiming,    ///< its claim is appended, not yet read back
  leader,      ///< read its own claim back: writes groups under its epoch
};

/// "follower", "catching_up", "claiming", "leader".
std::string_view to_string(owner_role r) noexcept;

/// What a partition_owner is.
struct owner_options {
  /// The partition, for messages.
  partition_id partition = 0;
  /// This process: node id (1 .. max_node_id_size bytes) and incarnation.
  node_identity self;
  /// Where this node's door listens, put in its claims (empty: none).
  std::string endpoint = {};
  /// Records read per poll at most.
  std::size_t read_batch = 512;
};

/// What a partition_owner did since it was made (for metrics).
struct owner_counters {
  std::uint64_t claims_appended = 0;   ///< retries included
  std::uint64_t led = 0;               ///< times it started leading
  std::uint64_t fenced = 0;            ///< times another claim ended it
  std::uint64_t barriers_appended = 0; ///< after a failed ack
  std::uint64_t groups_effective = 0;  ///< callers told the offset
  std::uint64_t groups_failed = 0;     ///< told busy or io
  /// Conditional claims dropped: once caught up, another claim than the
  /// one they were to replace was in force (claim(over)).
  std::uint64_t claims_dropped = 0;
};

/// One node's ownership of one partition. Not thread-safe: one thread
/// calls every member; the log's acks may come from any thread.
class partition_owner {
 public:
  /// Told the fate of one submitted group: the offset where it took effect
  /// (it is applied in the store), or why not. busy: the partition is
  /// owned by someone else (a newer claim came first) and the group is
  /// never applied (the write may be made again on the owner); io: the
  /// log lost or reordered it and it is never applied; closed: the owner
  /// was released or destroyed before the fate was known, and the group
  /// may still take effect.
  using group_done = std::function<void(result<log_offset>)>;

  /// @pre `log` and `store` outlive the owner.
  partition_owner(partition_log& log, replica_store& store,
                  owner_options options);

  /// Fails the pending groups with closed.
  ~partition_owner();

  partition_owner(const partition_owner&) = delete;
  partition_owner& operator=(const partition_owner&) = delete;

  /// Loads the store's resume point. Errors: invalid_argument for a bad
  /// node id; those of the store's load().
  status open();

  /// Asks to own the partition: catch up to the log's end offset (or until
  /// a read finds nothing more), append a claim, lead once it is read
  /// back. A no-op while leading or claiming. Reading another node's claim
  /// while leading makes it a follower again; it claims again only when
  /// asked again.
  void claim();

  /// Claims only what `over` still holds: as claim(), but once caught up
  /// to the log's end offset (asked after this call), the claim is
  /// appended only if the epoch in force is still `over`; otherwise the
  /// node stays a follower (counted in claims_dropped). For a failure
  /// detector that learnt `over`'s claimant is gone: a view older than the
  /// log (a node that was paused or restarted) takes nothing from a newer
  /// owner. An unconditional claim() made meanwhile wins.
  void claim(log_offset over);

  /// Stops leading or claiming. Pending groups fail with closed (their
  /// fate is unknown). A claim still in flight that lands is not led.
  void release();

  /// Appends `bytes` as a group under the leader's epoch; `done` is called
  /// from a later poll() once the group is read back. Not leading: `done`
  /// is called before submit returns, with busy. Empty bytes:
  /// invalid_argument (empty groups are the owner's barriers).
  void submit(std::string bytes, group_done done);

  /// Handles acks, reads up to read_batch records (waiting up to `wait`
  /// for the first), applies them through the replica, decides pending
  /// groups and moves the role on (a claim is appended once caught up; an
  /// append whose ack failed is followed by a claim or barrier whose
  /// read-back decides). Returns the number of records read. Errors: those
  /// of the log and the store; nothing was applied then.
  result<std::size_t> poll(std::chrono::milliseconds wait);

  /// The role now.
  owner_role role() const noexcept {
    return role_;
  }

  /// The leader's epoch, or no_epoch when not leading.
  log_offset epoch() const noexcept {
    return role_ == owner_role::leader ? replica_.state().epoch : no_epoch;
  }

  /// The fencing rule's state at the applied offset (epoch and owner as
  /// the log says, whoever that is).
  const fence_state& state() const noexcept {
    return replica_.state();
  }

  /// The fencing rule's state after the newest record read, applied or
  /// not (partition_replica::view): who owns the partition as far as this
  /// node read, even where it does not apply.
  const fence_state& view() const noexcept {
    return replica_.view();
  }

  /// Whether this node is to keep the partition's store at the log's end
  /// while it follows (a standby: a failover claim then costs no replay).
  /// Not a standby, a follower reads only who owns the partition; asked
  /// to claim, it first applies what it skipped. Default: a standby.
  void set_standby(bool on) noexcept {
    standby_ = on;
  }

  /// Whether the last poll applied what it read (the store follows the
  /// log): a standby, or any role but follower.
  bool tailing() const noexcept {
    return replica_.applying();
  }

  /// The counters so far.
  const owner_counters& counters() const noexcept {
    return counters_;
  }

  /// Groups submitted and not yet decided.
  std::size_t pending() const noexcept {
    return pending_.size();
  }

 private:
  struct ack;
  struct inbox;
  struct pending_group {
    log_offset epoch = 0;
    group_done done; // empty for a barrier
  };

  void append_claim();
  void tell(group_done done, result<log_offset> r);
  void run_completions();
  void append_group(std::string bytes, group_done done);
  void handle_acks();
  void on_claim(const judged_record& j);
  void on_own_group(const judged_record& j);
  void fail_pending_below(std::uint64_t sequence, const status& why);
  status not_owner_error(log_offset written_under) const;

  partition_log& log_;
  owner_options options_;
  partition_replica replica_;
  std::shared_ptr<inbox> inbox_;
  owner_role role_ = owner_role::follower;
  bool standby_ = true;
  bool wanted_ = false;
  log_offset catch_up_to_ = -1;
  // claim(over): the epoch the claim replaces (none: unconditional).
  std::optional<log_offset> only_over_;
  std::uint64_t next_sequence_ = 1;
  std::map<std::uint64_t, pending_group> pending_;
  owner_counters counters_;
  std::vector<std::pair<group_done, result<log_offset>>> completions_;
};

} // namespace perdure::cluster
