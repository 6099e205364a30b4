// SPDX-License-Identifier: Apache-2.0
#pragma once

// An actor's state at a point of its history, from its records alone:
// every state-changing actor record (created, called, snapshot) carries the
// whole new state, so the state at seq k is the last such record's.

#include "payload_json.hpp"

#include "perdure/eventlog/event_log.hpp"

#include <functional>
#include <string_view>

namespace perdure::tools {

struct actor_state {
  json state;
  eventlog::seq_t state_seq = 0; ///< the record the state comes from (0: none)
  eventlog::seq_t last_seq = 0;  ///< the last record replayed
};

/// Replays actor stream `id` from `from` until `stop` returns true for a
/// record (that record is not replayed). Fails as event_log::scan does.
result<actor_state> replay_actor_state(
  const eventlog::event_log& log, std::string_view id, eventlog::seq_t from,
  const std::function<bool(const eventlog::record_view&)>& stop);

} // namespace perdure::tools
