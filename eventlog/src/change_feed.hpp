// SPDX-License-Identifier: Apache-2.0
#pragma once

// The writer's side of change feeds (perdure/eventlog/change_feed.hpp):
// the notes added to a batch as it is submitted, so that they are part of
// the batch the journal records and a replay applies them as they were.

#include "perdure/eventlog/change_feed.hpp"
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/write_batch.hpp"

#include <optional>
#include <vector>

namespace perdure::eventlog::detail {

/// Checks rules given in options: `invalid_argument` naming the problem.
status check_change_feeds(const std::vector<change_feed>& feeds);

/// Adds to `b` the notes `feeds` ask for, each right after the append it
/// notes. Appends to a feed stream itself are never noted.
void add_notes(const std::vector<change_feed>& feeds, write_batch& b);

/// At a writer's open: stores `wanted` as the storage's rules when given
/// and different from the stored ones, else reads the stored rules.
/// Returns the rules this writer applies.
result<std::vector<change_feed>> settle_change_feeds(
  event_log& log, const std::optional<std::vector<change_feed>>& wanted);

} // namespace perdure::eventlog::detail
