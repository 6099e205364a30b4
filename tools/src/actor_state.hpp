// SPDX-License-Identifier: Apache-2.0
#pragma once

// An actor's state at a point of its history, from its records alone. A
// state-logged actor's records (created, called, snapshot) each carry the
// whole new state: the state at seq k is the last such record's. An
// event-sourced actor's calls carry events instead: its state at seq k is
// the nearest snapshot (or its creation) and the events after it, folded
// only where the application's apply() is at hand (cli_io::fold).

#include "payload_json.hpp"

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/records/actor.hpp"
#include "perdure/tools/cli.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::tools {

struct actor_state {
  json state;
  eventlog::seq_t state_seq = 0; ///< the record the state comes from (0: none)
  eventlog::seq_t last_seq = 0;  ///< the last record replayed
  std::string cls;               ///< the actor's class (actor_created)
  std::string state_bytes;       ///< `state` encoded
  /// Event-sourced: the events logged after state_seq through last_seq ...
  std::vector<actor_records::stored_event> events;
  /// ... as JSON rows {seq, type, data}.
  json events_json = json::array();
  bool event_sourced = false;
  /// Whether `state` is the fold of `events` (then events are in it).
  bool folded = false;
};

/// Replays actor stream `id` from `from` until `stop` returns true for a
/// record (that record is not replayed). Fails as event_log::scan does, or
/// `corruption` for an actor record that does not decode.
result<actor_state> replay_actor_state(
  const eventlog::event_log& log, std::string_view id, eventlog::seq_t from,
  const std::function<bool(const eventlog::record_view&)>& stop);

/// Folds `s`'s events into its state with `fold`, when there are events
/// and a fold; sets `folded`. Fails as the fold does.
status fold_actor_state(actor_state& s, const actor_fold& fold);

} // namespace perdure::tools
