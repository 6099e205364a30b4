// SPDX-License-Identifier: Apache-2.0
#pragma once

// Change feeds: a stream in which the log notes, in commit order, every
// record of chosen kinds appended to any stream (options::change_feeds).
// A note names the record (stream, seq, kind); it does not copy it, so a
// feed costs one small record per noted record. A reader follows the feed
// by seq and reads each noted record where it is (eventlog/FORMAT.md,
// "Change feeds").

#include "perdure/eventlog/types.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::eventlog {

/// One note of a change feed (record kind `change_note`).
struct change_note {
  std::string source;      ///< the stream the noted record was appended to
  seq_t seq = 0;           ///< its seq there
  std::uint16_t kind = 0;  ///< its record kind
};

/// The payload of a `change_note` record.
std::string encode_change_note(const change_note& n);

/// Decodes a `change_note` payload; `corruption` when it is malformed,
/// `unsupported` for a newer layout.
result<change_note> decode_change_note(std::string_view payload);

/// The stream whose metadata holds the storage's change-feed rules, so
/// that every writer of the storage notes alike (FORMAT.md).
inline constexpr std::string_view change_feed_rules_stream =
  "perdure.change-feeds";

/// The rules as stored: one line per feed, "kind,kind,...:stream".
std::string encode_change_feeds(const std::vector<change_feed>& feeds);

/// Parses stored rules; `corruption` when malformed.
result<std::vector<change_feed>> decode_change_feeds(std::string_view text);

} // namespace perdure::eventlog
