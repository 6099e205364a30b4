// SPDX-License-Identifier: Apache-2.0
// show on an actor: its current state and its last calls.

#include "actor_summary.hpp"

#include "actor_state.hpp"
#include "format.hpp"

#include "perdure/eventlog/record_kinds.hpp"

#include <algorithm>
#include <deque>
#include <ostream>

#include <fmt/format.h>

namespace perdure::tools {

namespace {

bool is_call(std::uint16_t kind) {
  using eventlog::record_kind;
  return kind == to_u16(record_kind::actor_called)
         || kind == to_u16(record_kind::actor_events)
         || kind == to_u16(record_kind::actor_call_failed)
         || kind == to_u16(record_kind::actor_call_completed);
}

// The calls among the last records (a bounded window: an actor with a long
// history is not read whole).
constexpr eventlog::seq_t call_window = 256;

} // namespace

result<actor_summary> summarize_actor(const eventlog::event_log& log,
                                      const eventlog::stream_info& info,
                                      const actor_fold& fold,
                                      std::size_t calls) {
  actor_summary out;
  // From the latest snapshot: the state after it is all that is shown.
  auto replayed = replay_actor_state(
    log, info.id, std::max(info.snapshot_seq, info.first_seq),
    [](const eventlog::record_view&) { return false; });
  if (!replayed)
    return std::move(replayed).error();
  if (auto st = fold_actor_state(*replayed, fold); !st)
    return st;
  out.state = std::move(replayed->state);
  out.state_seq = replayed->state_seq;
  out.event_sourced = replayed->event_sourced;
  out.folded = replayed->folded;
  if (!out.folded)
    out.events_since = std::move(replayed->events_json);
  std::deque<json> last;
  auto from = info.last_seq > call_window ? info.last_seq - call_window : 1;
  auto st = log.scan(info.id, std::max(from, info.first_seq),
                     [&](const eventlog::record_view& r) {
                       if (!is_call(r.kind))
                         return true;
                       auto p = payload_json(r.kind, r.payload);
                       json c{{"seq", r.seq},
                              {"time", r.time},
                              {"kind", std::string{eventlog::kind_name(r.kind)}}};
                       if (p.is_object())
                         for (const char* f : {"method", "args", "result",
                                               "error", "key"})
                           if (p.contains(f))
                             c[f] = p[f];
                       last.push_back(std::move(c));
                       if (last.size() > calls)
                         last.pop_front();
                       return true;
                     });
  if (!st)
    return st;
  out.last_calls = json::array();
  for (auto& c : last)
    out.last_calls.push_back(std::move(c));
  return out;
}

void print_unfolded_events(const context& ctx, const json& events) {
  ctx.out() << '\n'
            << paint(fmt::format("EVENTS AFTER IT ({}; only the "
                                 "application folds them: its embedded "
                                 "CLI shows the folded state)",
                                 events.size()),
                     style::bold, ctx.color)
            << '\n';
  table t{{"SEQ", "TYPE", "DATA"}, {0}};
  for (auto& e : events)
    t.add({std::to_string(e["seq"].get<eventlog::seq_t>()),
           e["type"].get<std::string>(), dump_compact(e["data"])});
  t.print(ctx.out(), ctx.color);
}

void print_actor_summary(const context& ctx, const actor_summary& a) {
  auto title = a.folded ? fmt::format("STATE (seq {} with the events after "
                                      "it folded)",
                                      a.state_seq)
        : a.events_since.empty()
          ? fmt::format("STATE (seq {})", a.state_seq)
          : fmt::format("STATE (seq {}, before the {} events below)",
                        a.state_seq, a.events_since.size());
  ctx.out() << '\n'
            << paint(title, style::bold, ctx.color) << '\n'
            << (a.state_seq == 0 ? std::string{"(none recorded)"}
                                 : dump_pretty(a.state))
            << '\n';
  if (!a.folded && !a.events_since.empty())
    print_unfolded_events(ctx, a.events_since);
  if (a.last_calls.empty())
    return;
  ctx.out() << '\n' << paint("LAST CALLS", style::bold, ctx.color) << '\n';
  table t{{"SEQ", "TIME", "METHOD", "ARGS", "RECORD"}, {0}};
  for (auto& c : a.last_calls) {
    auto text = [&](const char* f) {
      return c.contains(f) ? (c[f].is_string() ? c[f].get<std::string>()
                                               : dump_compact(c[f]))
                           : std::string{};
    };
    t.add({std::to_string(c["seq"].get<eventlog::seq_t>()),
           human_time(c["time"].get<eventlog::time_ns>(), ctx.utc),
           text("method"), text("args"), c["kind"].get<std::string>()});
  }
  t.print(ctx.out(), ctx.color);
}

} // namespace perdure::tools
