// SPDX-License-Identifier: Apache-2.0
#include "actor_state.hpp"

#include "perdure/eventlog/record_kinds.hpp"

namespace perdure::tools {

result<actor_state> replay_actor_state(
  const eventlog::event_log& log, std::string_view id, eventlog::seq_t from,
  const std::function<bool(const eventlog::record_view&)>& stop) {
  actor_state out;
  auto st = log.scan(id, from, [&](const eventlog::record_view& r) {
    if (stop(r))
      return false;
    out.last_seq = r.seq;
    switch (static_cast<eventlog::record_kind>(r.kind)) {
      case eventlog::record_kind::actor_created:
      case eventlog::record_kind::actor_called:
      case eventlog::record_kind::actor_snapshot: {
        auto j = payload_json(r.kind, r.payload);
        if (j.is_object() && j.contains("state")) {
          out.state = j["state"];
          out.state_seq = r.seq;
        }
        break;
      }
      default: break;
    }
    return true;
  });
  if (!st)
    return st;
  return out;
}

} // namespace perdure::tools
