// SPDX-License-Identifier: Apache-2.0
#include "actor_state.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <fmt/format.h>

#include <type_traits>

namespace perdure::tools {

namespace {

using eventlog::record_kind;

void set_state(actor_state& out, json state, std::string bytes,
               eventlog::seq_t seq) {
  out.state = std::move(state);
  out.state_bytes = std::move(bytes);
  out.state_seq = seq;
  out.events.clear();
  out.events_json = json::array();
}

// A record carrying a whole state (created, called, snapshot): decoded as
// its record struct `R`; a payload of another shape still shows its
// "state" field, as history does (nothing to fold onto then).
template <class R>
void read_state(actor_state& out, const eventlog::record_view& r) {
  if (auto v = codec::decode<R>(r.payload)) {
    if constexpr (std::is_same_v<R, actor_records::created>)
      out.cls = v->cls;
    auto j = v->state.data.empty()
               ? json(nullptr)
               : value_json(v->state.data).value_or(json(nullptr));
    set_state(out, std::move(j), std::move(v->state.data), r.seq);
    return;
  }
  auto j = payload_json(r.kind, r.payload);
  if (j.is_object() && j.contains("state"))
    set_state(out, j["state"], {}, r.seq);
}

} // namespace

result<actor_state> replay_actor_state(
  const eventlog::event_log& log, std::string_view id, eventlog::seq_t from,
  const std::function<bool(const eventlog::record_view&)>& stop) {
  actor_state out;
  status bad;
  auto st = log.scan(id, from, [&](const eventlog::record_view& r) {
    if (stop(r))
      return false;
    out.last_seq = r.seq;
    switch (static_cast<record_kind>(r.kind)) {
      case record_kind::actor_created:
        read_state<actor_records::created>(out, r);
        break;
      case record_kind::actor_called:
        read_state<actor_records::called>(out, r);
        break;
      case record_kind::actor_snapshot:
        read_state<actor_records::snapshot>(out, r);
        break;
      case record_kind::actor_events: {
        auto c = codec::decode<actor_records::events_called>(r.payload);
        if (!c)
          return (bad = {errc::corruption,
                         fmt::format("actor '{}' seq {}: {}", id, r.seq,
                                     c.error().message())},
                  false);
        out.event_sourced = true;
        for (auto& e : c->events) {
          out.events_json.push_back(
            {{"seq", r.seq},
             {"type", e.type},
             {"data", value_json(e.data.data).value_or(json(nullptr))}});
          out.events.push_back(std::move(e));
        }
        break;
      }
      default: break;
    }
    return true;
  });
  if (!st)
    return st;
  if (!bad)
    return bad;
  return out;
}

status fold_actor_state(actor_state& s, const actor_fold& fold) {
  if (!fold || s.events.empty() || s.state_seq == 0)
    return {};
  auto bytes = fold(s.cls, s.state_bytes, s.events);
  if (!bytes)
    return bytes.error();
  auto j = value_json(*bytes);
  if (!j)
    return {errc::corruption,
            fmt::format("the fold of class '{}' returned a state that is "
                        "not a perdure payload",
                        s.cls)};
  s.state = std::move(*j);
  s.state_bytes = std::move(*bytes);
  s.folded = true;
  return {};
}

} // namespace perdure::tools
