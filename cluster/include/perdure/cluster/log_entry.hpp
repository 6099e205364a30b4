// SPDX-License-Identifier: Apache-2.0
#pragma once

// The envelope of every record appended to a partition of the cluster's
// log: a claim (a node takes the partition over) or a group (one group of
// changes written by the partition's owner). The byte layout is in
// docs/cluster.md ("The log's record schema"); it changes only by adding
// kinds or by a new format version, never silently.

#include "perdure/cluster/partition_log.hpp"
#include "perdure/eventlog/status.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace perdure::cluster {

/// The format version this build writes and the newest it reads (2: a
/// claim carries its claimant's endpoint; version 1 records still decode,
/// with an empty endpoint).
inline constexpr std::uint8_t log_entry_version = 2;

/// The longest node id a log entry can carry, in bytes.
inline constexpr std::size_t max_node_id_size = 255;

/// The longest endpoint a claim can carry, in bytes.
inline constexpr std::size_t max_endpoint_size = 255;

/// Which kind of record an entry is. Values are stored; they are only
/// appended. Reserved for later: 3 outbox entry, 4 input offsets.
enum class entry_kind : std::uint8_t {
  claim = 1, ///< a node claims the partition; its offset is the new epoch
  group = 2, ///< a group of changes written under an epoch
};

/// One process of one node: the node's configured id and an incarnation
/// number unique per process start (a restarted node is a new writer).
struct node_identity {
  std::string node;
  std::uint64_t incarnation = 0;

  friend bool operator==(const node_identity&, const node_identity&) = default;
};

/// "node-a#7" (node id, '#', incarnation), for messages.
std::string to_string(const node_identity& who);

/// A claim: `claimant` takes the partition over. Every reader makes the
/// claim's offset the partition's epoch. `endpoint` is where the
/// claimant's door listens ("host:port"; empty: it serves no forwarded
/// requests; always empty in a version 1 record).
struct claim_entry {
  node_identity claimant;
  std::string endpoint = {};

  friend bool operator==(const claim_entry&, const claim_entry&) = default;
};

/// A group written by `writer` while it believed it owned the partition
/// under `epoch` (the offset of its claim). `sequence` counts the writer
/// incarnation's groups from 1 upwards. `bytes` is opaque here (later: the
/// journal's encoding of one LMDB group commit); empty bytes are a barrier
/// the owner appends to learn the fate of earlier groups.
struct group_entry {
  log_offset epoch = 0;
  node_identity writer;
  std::uint64_t sequence = 0;
  std::string bytes;

  friend bool operator==(const group_entry&, const group_entry&) = default;
};

/// One decoded record of a partition.
using log_entry = std::variant<claim_entry, group_entry>;

/// The kind of `entry`.
entry_kind kind_of(const log_entry& entry) noexcept;

/// The record bytes of `entry` in the current format version.
/// @pre the node id is 1 .. max_node_id_size bytes; a claim's endpoint at
///      most max_endpoint_size bytes; a group's bytes are
///      under 4 GiB.
std::string encode(const log_entry& entry);

/// Decodes the record bytes of one entry. Errors: corruption when the
/// bytes are not a well-formed entry (short, checksum mismatch, lengths
/// that do not add up, trailing bytes); unsupported when the entry was
/// written in a newer format version or is of a kind this build does not
/// know. Never crashes on any input.
result<log_entry> decode(std::string_view bytes);

} // namespace perdure::cluster
