// SPDX-License-Identifier: Apache-2.0
#pragma once

// The claim and fencing rule: which records of a partition take effect.
// Every reader (owner, standby, CLI) runs this one function over the log in
// offset order, so every reader computes the same applied sequence.
//
//  - A claim at offset c starts epoch c, owned by its claimant.
//  - A group takes effect iff its epoch is the current epoch (the offset of
//    the latest claim before it), its writer is that claim's claimant, and
//    its sequence is above every sequence that took effect in the epoch (so
//    a duplicate, or an older group landing after a newer one, is inert).

#include "perdure/cluster/log_entry.hpp"
#include "perdure/cluster/partition_log.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace perdure::cluster {

/// The epoch before any claim was read.
inline constexpr log_offset no_epoch = -1;

/// The rule's state after reading a prefix of the log. It is what a reader
/// stores with its applied offset (in the same transaction) to resume.
struct fence_state {
  /// The offset after the last record judged: where reading resumes.
  log_offset next = 0;
  /// The offset of the latest claim read, or no_epoch.
  log_offset epoch = no_epoch;
  /// The claimant of `epoch` (empty before any claim).
  node_identity owner;
  /// The highest sequence that took effect in `epoch`, 0 for none.
  std::uint64_t last_sequence = 0;
  /// Where the owner's door listens, from its claim (empty: none).
  std::string owner_endpoint = {};

  friend bool operator==(const fence_state&, const fence_state&) = default;
};

/// What the rule decided about one record.
enum class verdict : std::uint8_t {
  claim,          ///< a claim: the epoch is now its offset
  effective,      ///< a group that takes effect
  fenced,         ///< a group of another epoch than the current one
  foreign_writer, ///< a group of the current epoch by another writer
  duplicate,      ///< a group at or below the epoch's last sequence
};

/// "claim", "effective", "fenced", "foreign_writer", "duplicate".
std::string_view to_string(verdict v) noexcept;

/// Judges the record `entry` at `offset` and advances `state` past it.
/// @pre offset >= state.next (records are judged once, in offset order).
verdict judge(fence_state& state, log_offset offset, const log_entry& entry);

} // namespace perdure::cluster
