// SPDX-License-Identifier: Apache-2.0
#pragma once

// One group commit as bytes: the redo journal's encoding of a group entry
// (FORMAT.md, "Journal"), for the cluster, whose replicated log carries
// each partition's group commits and whose replicas apply them with
// event_log::apply_group. The generation and txnid fields are 0.

#include "perdure/eventlog/status.hpp"
#include "perdure/eventlog/types.hpp"
#include "perdure/eventlog/write_batch.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::eventlog {

/// A group commit read back from its bytes.
struct decoded_group {
  time_ns now = 0;                  ///< the time its records are stamped
  std::vector<write_batch> batches; ///< in commit order
};

/// The bytes of a group of `batches` stamped `now`: length, crc32c and the
/// body of a journal group entry (generation 0, txnid 0).
std::string encode_group(time_ns now, std::span<const write_batch> batches);

/// The size of encode_group's bytes for `batches`, without encoding them:
/// encoded_group_size({}) plus encoded_size(b) for each batch b.
std::size_t encoded_group_size(std::span<const write_batch> batches) noexcept;
/// What batch `b` adds to encode_group's bytes.
std::size_t encoded_size(const write_batch& b) noexcept;

/// Decodes bytes made by encode_group. Errors: corruption when they are
/// short, fail their checksum, or are not a well-formed group entry. Never
/// crashes on any input.
result<decoded_group> decode_group(std::string_view bytes);

} // namespace perdure::eventlog
