// SPDX-License-Identifier: Apache-2.0
// diff and fork: an actor's state between two points, and a copy of its
// history up to a point under a new id.

#include "actor_state.hpp"
#include "commands.hpp"
#include "format.hpp"
#include "payload_json.hpp"
#include "storage.hpp"

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/write_batch.hpp"

#include <ostream>

#include <fmt/format.h>

namespace perdure::tools {

namespace {

// The state of actor stream `id` after seq `k`: the last state record's,
// with an event-sourced actor's later events folded by `fold`.
result<json> actor_state_at(const eventlog::event_log& log,
                            const std::string& id, eventlog::seq_t k,
                            const actor_fold& fold) {
  auto replayed = replay_actor_state(
    log, id, 1, [k](const eventlog::record_view& r) { return r.seq > k; });
  if (!replayed)
    return std::move(replayed).error();
  if (replayed->state_seq == 0)
    return unexpected{errc::not_found,
                      fmt::format("actor '{}' has no state at or before seq "
                                  "{}",
                                  id, k)};
  if (auto st = fold_actor_state(*replayed, fold); !st)
    return st;
  if (!replayed->events.empty() && !replayed->folded)
    return unexpected{errc::unsupported,
                      fmt::format("actor '{}' is event-sourced: its state "
                                  "at seq {} is the fold of {} events after "
                                  "seq {}, which only the application can "
                                  "compute (its embedded CLI's diff does; "
                                  "`perdure history` shows the events)",
                                  id, k, replayed->events.size(),
                                  replayed->state_seq)};
  return std::move(replayed->state);
}

// Appends the differences of `a` and `b` under `path` to `out`.
void diff_json(const json& a, const json& b, const std::string& path,
               json& out) {
  if (a == b)
    return;
  if (a.is_object() && b.is_object()) {
    for (auto& [k, v] : a.items()) {
      auto sub = path.empty() ? k : path + "." + k;
      if (b.contains(k))
        diff_json(v, b[k], sub, out);
      else
        out.push_back(json{{"path", sub}, {"before", v}, {"after", nullptr}});
    }
    for (auto& [k, v] : b.items())
      if (!a.contains(k))
        out.push_back(json{{"path", path.empty() ? k : path + "." + k},
                           {"before", nullptr},
                           {"after", v}});
    return;
  }
  out.push_back(json{{"path", path.empty() ? "$" : path},
                     {"before", a},
                     {"after", b}});
}

// `actor/ID` as listed; a bare id gets the prefix.
std::string actor_stream(const std::string& id) {
  return id.rfind("actor/", 0) == 0 ? id : "actor/" + id;
}

} // namespace

int cmd_diff(const context& ctx, const diff_args& a) {
  int code = 0;
  auto s = open_stream(ctx, a.id, code,
                       {.kind = eventlog::stream_kind::actor,
                        .command = "diff",
                        .wrong_kind = exit_code::usage});
  if (!s)
    return code;
  for (auto k : {a.a, a.b})
    if (k < s->info.first_seq || k > s->info.last_seq)
      return fail(ctx, exit_code::usage,
                  fmt::format("seq {} is outside the records of '{}' (seq "
                              "{}..{})",
                              k, a.id, s->info.first_seq, s->info.last_seq));
  auto before = actor_state_at(*s->log, a.id, a.a, ctx.io->fold);
  if (!before)
    return fail(ctx, before.error());
  auto after = actor_state_at(*s->log, a.id, a.b, ctx.io->fold);
  if (!after)
    return fail(ctx, after.error());
  json changes = json::array();
  diff_json(*before, *after, "", changes);
  if (ctx.json) {
    ctx.out() << dump_pretty(json{{"id", a.id},
                                  {"a", a.a},
                                  {"b", a.b},
                                  {"changes", changes}})
              << '\n';
    return 0;
  }
  ctx.out() << fmt::format("actor '{}': seq {} -> seq {}: {} change{}\n", a.id,
                           a.a, a.b, changes.size(),
                           changes.size() == 1 ? "" : "s");
  for (auto& c : changes)
    ctx.out() << "  " << c["path"].get<std::string>() << ": "
              << dump_compact(c["before"]) << " -> "
              << dump_compact(c["after"]) << '\n';
  return 0;
}

int cmd_fork(const context& ctx, const fork_args& a) {
  int code = 0;
  auto s = open_stream(ctx, a.id, code,
                       {.write = true,
                        .kind = eventlog::stream_kind::actor,
                        .command = "fork",
                        .wrong_kind = exit_code::usage});
  if (!s)
    return code;
  auto& log = s->log;
  auto* info = &s->info;
  if (info->first_seq != 1)
    return fail(ctx, exit_code::refused,
                fmt::format("the history of '{}' before seq {} was dropped; "
                            "fork needs it from seq 1",
                            a.id, info->first_seq));
  if (a.at < 1 || a.at > info->last_seq)
    return fail(ctx, exit_code::usage,
                fmt::format("--at {} is outside the records of '{}' (seq "
                            "1..{})",
                            a.at, a.id, info->last_seq));
  auto target = actor_stream(a.as);
  if (auto why = eventlog::check_stream_id(target); !why.empty())
    return fail(ctx, exit_code::usage, fmt::format("--as '{}': {}", a.as, why));
  auto records = log->read(a.id, 1, a.at);
  if (!records)
    return fail(ctx, records.error());
  eventlog::write_batch b;
  b.expect_last(target, 0); // the new id must be unused
  b.create(target, eventlog::stream_kind::actor, info->metadata);
  for (auto& r : *records)
    b.append(target, r.kind, std::move(r.payload));
  auto done = log->commit(std::move(b));
  if (!done && done.error() == errc::conflict)
    return fail(ctx, exit_code::refused,
                fmt::format("'{}' exists already; pick another id or delete "
                            "it first",
                            target));
  if (!done)
    return fail(ctx, done.error());
  if (ctx.json)
    ctx.out() << dump_pretty(json{{"id", a.id},
                                  {"at", a.at},
                                  {"as", target},
                                  {"records", records->size()}})
              << '\n';
  else
    ctx.out() << fmt::format("forked actor '{}' at seq {} as '{}' ({} "
                             "records)\n",
                             a.id, a.at, target, records->size());
  return 0;
}

} // namespace perdure::tools
