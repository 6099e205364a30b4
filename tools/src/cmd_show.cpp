// SPDX-License-Identifier: Apache-2.0
// show, output and replay: a stream's state, rebuilt from its records.

#include "actor_state.hpp"
#include "actor_summary.hpp"
#include "commands.hpp"
#include "format.hpp"
#include "payload_json.hpp"
#include "workflow_signals.hpp"
#include "workflow_view.hpp"

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/child.hpp"
#include "perdure/eventlog/records/runs.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <ostream>

#include <fmt/format.h>

namespace perdure::tools {

namespace {

using eventlog::stream_info;

// Reads the stream's records up to `stop` (exclusive) into a workflow view.
result<workflow_view> build(
  const eventlog::event_log& log, const stream_info& info,
  const std::function<bool(const eventlog::record_view&)>& stop = {}) {
  workflow_builder b;
  auto st = log.scan(info.id, 1, [&](const eventlog::record_view& r) {
    if (stop && stop(r))
      return false;
    b.apply(r.seq, r.kind, r.time, r.payload);
    return true;
  });
  if (!st)
    return st;
  return b.view();
}

// Steps in tree order: each step followed by the sub-graph it continued
// into; `depth` is the nesting level.
// Siblings run in start order; steps that never started come last.
void tree_order(const workflow_view& v, std::int32_t owner, int depth,
                std::vector<std::pair<const step_view*, int>>& out) {
  std::vector<const step_view*> level;
  for (auto& s : v.steps)
    if (s.owner == owner && !s.id.empty())
      level.push_back(&s);
  std::stable_sort(level.begin(), level.end(), [](auto* a, auto* b) {
    auto key = [](const step_view* s) {
      return s->start ? s->start : INT64_MAX;
    };
    return key(a) < key(b);
  });
  for (auto* s : level) {
    out.emplace_back(s, depth);
    tree_order(v, static_cast<std::int32_t>(s->index), depth + 1, out);
  }
}

std::int64_t duration(eventlog::time_ns start, eventlog::time_ns end) {
  return start && end ? end - start : -1;
}

void print_steps(const context& ctx, const workflow_view& v) {
  std::vector<std::pair<const step_view*, int>> order;
  tree_order(v, -1, 0, order);
  table t{{"STEP", "NAME", "STATUS", "ATTEMPTS", "START", "END", "DURATION"},
          {3, 6}};
  for (auto [s, depth] : order) {
    auto attempts = s->max_attempts > 0
                      ? fmt::format("{}/{}", s->attempts, s->max_attempts)
                      : std::to_string(s->attempts);
    t.add({std::string(static_cast<std::size_t>(depth) * 2, ' ') + s->id,
           s->local ? s->step + " (local)" : s->step, cell{s->status, status_style(s->status)}, attempts,
           human_time(s->start, ctx.utc), human_time(s->end, ctx.utc),
           human_duration(duration(s->start, s->end))});
  }
  t.print(ctx.out(), ctx.color);
  // Why attempts failed, also for a step that succeeded on a later one.
  for (auto [s, depth] : order) {
    if (s->error.empty())
      continue;
    auto text = s->status == "failed"
                  ? fmt::format("{}: {}", s->id, s->error)
                  : fmt::format("{}: attempt {} failed: {}", s->id,
                                s->error_attempt, s->error);
    ctx.out() << paint(text, s->status == "failed" ? style::red : style::dim,
                       ctx.color)
              << '\n';
  }
}

void print_entry(const context& ctx, const stream_info& info,
                 const std::string& shown,
                 std::vector<std::pair<std::string, cell>> extra) {
  std::vector<std::pair<std::string, cell>> f;
  f.emplace_back("id", info.id);
  f.emplace_back("kind", std::string{eventlog::to_string(info.kind)});
  f.emplace_back("status", cell{shown, status_style(shown)});
  f.emplace_back("created", human_time(info.created, ctx.utc));
  f.emplace_back("updated", human_time(info.updated, ctx.utc));
  f.emplace_back("records",
                 info.first_seq ? fmt::format("{} (seq {}..{})",
                                              group_digits(record_count(info)),
                                              info.first_seq, info.last_seq)
                                : std::string{"0"});
  if (info.snapshot_seq)
    f.emplace_back("snapshot", fmt::format("seq {}", info.snapshot_seq));
  if (!info.metadata.empty())
    f.emplace_back("metadata", dump_compact(payload_json(0, info.metadata)));
  for (auto& e : extra)
    f.push_back(std::move(e));
  print_fields(ctx.out(), f, ctx.color);
}

// A workflow's parent (from its metadata), the children it started
// (stream children/ID), each child with its stored status, and its kept
// earlier runs (continue-as-new: streams runs/ID/N).
struct family {
  std::string parent, parent_step;
  std::vector<std::pair<records::child_started, std::string>> children;
  std::vector<std::uint32_t> kept_runs;
  json signals; ///< workflow_signals(): its signals and promises
};

result<family> read_family(const eventlog::event_log& log,
                           const std::string& id, const workflow_view& v) {
  family f;
  if (auto i = v.metadata.find(records::parent_key); i != v.metadata.end())
    f.parent = i->second;
  if (auto i = v.metadata.find(records::parent_step_key);
      i != v.metadata.end())
    f.parent_step = i->second;
  auto kids = records::read_children(log, id);
  if (!kids)
    return std::move(kids).error();
  for (auto& c : *kids) {
    auto info = log.info(c.child);
    f.children.emplace_back(std::move(c), info ? info->status
                                                : std::string{"removed"});
  }
  auto runs = records::archived_runs(log, id);
  if (!runs)
    return std::move(runs).error();
  f.kept_runs = std::move(*runs);
  return f;
}

void family_json(const family& f, json& j) {
  j["parent"] = f.parent.empty()
                  ? json(nullptr)
                  : json{{"id", f.parent}, {"step", f.parent_step}};
  auto arr = json::array();
  for (auto& [c, status] : f.children)
    arr.push_back({{"id", c.child}, {"step", c.step}, {"status", status}});
  j["children"] = std::move(arr);
  j["kept_runs"] = f.kept_runs;
  j["signals"] = f.signals.value("signals", json::array());
  j["promises"] = f.signals.value("promises", json::array());
}

void print_workflow(const context& ctx, const stream_info& info,
                    const std::string& shown, const workflow_view& v,
                    const family* fam = nullptr) {
  std::vector<std::pair<std::string, cell>> extra;
  if (fam && !fam->parent.empty())
    extra.emplace_back("parent", fmt::format("{} (step {})", fam->parent,
                                             fam->parent_step));
  if (fam && !fam->children.empty()) {
    std::string kids;
    for (auto& [c, status] : fam->children)
      kids += fmt::format("{}{} ({})", kids.empty() ? "" : ", ", c.child,
                          status);
    extra.emplace_back("children", kids);
  }
  if (fam && !fam->signals.value("signals", json::array()).empty()) {
    std::size_t waiting = 0;
    for (auto& sg : fam->signals["signals"])
      waiting += sg.value("consumed", true) ? 0 : 1;
    extra.emplace_back("signals",
                       fmt::format("{} ({} not consumed yet)",
                                   fam->signals["signals"].size(), waiting));
  }
  extra.emplace_back("runs", std::to_string(v.runs));
  if (v.run_number > 1 || (fam && !fam->kept_runs.empty()))
    extra.emplace_back(
      "run", fmt::format("{} (continued as new; kept earlier runs: {})",
                         v.run_number,
                         fam && !fam->kept_runs.empty()
                           ? fmt::format("{}-{}", fam->kept_runs.front(),
                                         fam->kept_runs.back())
                           : std::string{"none"}));
  extra.emplace_back("duration", v.end ? human_duration(v.end - v.start)
                                       : std::string{"-"});
  if (!v.metadata.empty())
    extra.emplace_back("user metadata", dump_compact(json(v.metadata)));
  if (!v.error.empty())
    extra.emplace_back("error", cell{v.error, style::red});
  if (auto out = v.output())
    if (auto j = value_json(**out))
      extra.emplace_back("output", dump_compact(*j));
  print_entry(ctx, info, shown, std::move(extra));
  ctx.out() << '\n';
  print_steps(ctx, v);
  for (auto& p : v.problems)
    ctx.out() << paint("undecodable record " + p, style::red, ctx.color)
              << '\n';
}

int need_workflow(const context& ctx, const stream_info& info,
                  std::string_view what) {
  return fail_kind(ctx, info, eventlog::stream_kind::workflow, what);
}

} // namespace

int cmd_show(const context& ctx, const std::string& given) {
  int code = 0;
  auto s = open_stream(ctx, given, code, {.resolve_actor = true});
  if (!s)
    return code;
  const std::string& id = s->info.id;
  auto shown = shown_status(s->info, s->live);
  if (s->info.kind == eventlog::stream_kind::workflow) {
    auto v = build(*s->log, s->info);
    if (!v)
      return fail(ctx, v.error());
    auto fam = read_family(*s->log, id, *v);
    if (!fam)
      return fail(ctx, fam.error());
    auto sig = workflow_signals(*s->log, id, ctx.utc);
    if (!sig)
      return fail(ctx, sig.error());
    fam->signals = std::move(*sig);
    if (ctx.json) {
      json j = entry_json(s->info, shown, ctx.utc);
      j["workflow"] = workflow_json(*v, ctx.utc);
      family_json(*fam, j["workflow"]);
      ctx.out() << dump_pretty(j) << '\n';
    } else {
      print_workflow(ctx, s->info, shown, *v, &*fam);
    }
    return 0;
  }
  // Not a workflow: summarise the record kinds.
  struct kind_sum {
    std::uint64_t count = 0;
    eventlog::time_ns first = 0, last = 0;
  };
  std::map<std::uint16_t, kind_sum> kinds;
  auto st = s->log->scan(id, 1, [&](const eventlog::record_view& r) {
    auto& k = kinds[r.kind];
    if (k.count++ == 0)
      k.first = r.time;
    k.last = r.time;
    return true;
  });
  if (!st)
    return fail(ctx, st);
  if (ctx.json) {
    json j = entry_json(s->info, shown, ctx.utc);
    auto arr = json::array();
    for (auto& [kind, k] : kinds)
      arr.push_back({{"kind", kind},
                     {"name", std::string{eventlog::kind_name(kind)}},
                     {"count", k.count},
                     {"first", iso_time(k.first, ctx.utc)},
                     {"last", iso_time(k.last, ctx.utc)}});
    j["record_kinds"] = std::move(arr);
    if (s->info.kind == eventlog::stream_kind::actor) {
      auto a = summarize_actor(*s->log, s->info, ctx.io->fold);
      if (!a)
        return fail(ctx, a.error());
      j["state"] = std::move(a->state);
      j["state_seq"] = a->state_seq;
      j["last_calls"] = std::move(a->last_calls);
      if (a->event_sourced) {
        j["event_sourced"] = true;
        j["folded"] = a->folded;
        j["events_since_state"] = std::move(a->events_since);
      }
    }
    ctx.out() << dump_pretty(j) << '\n';
    return 0;
  }
  print_entry(ctx, s->info, shown, {});
  ctx.out() << '\n';
  table t{{"KIND", "RECORDS", "FIRST", "LAST"}, {1}};
  for (auto& [kind, k] : kinds)
    t.add({std::string{eventlog::kind_name(kind)}, group_digits(k.count),
           human_time(k.first, ctx.utc), human_time(k.last, ctx.utc)});
  t.print(ctx.out(), ctx.color);
  if (s->info.kind == eventlog::stream_kind::actor) {
    auto a = summarize_actor(*s->log, s->info, ctx.io->fold);
    if (!a)
      return fail(ctx, a.error());
    print_actor_summary(ctx, *a);
  }
  return 0;
}

int cmd_output(const context& ctx, const output_args& a) {
  int code = 0;
  auto s = open_stream(ctx, a.id, code);
  if (!s)
    return code;
  if (s->info.kind != eventlog::stream_kind::workflow)
    return need_workflow(ctx, s->info, "output");
  auto v = build(*s->log, s->info);
  if (!v)
    return fail(ctx, v.error());
  const std::optional<std::string>* bytes = nullptr;
  if (a.step) {
    auto* step = v->find(*a.step);
    if (!step) {
      std::string ids;
      for (auto& st : v->steps)
        ids += (ids.empty() ? "" : ", ") + st.id;
      return fail(ctx, exit_code::not_found,
                  fmt::format("workflow '{}' has no step '{}' (steps: {})",
                              a.id, *a.step, ids));
    }
    if (!step->output)
      return fail(ctx, exit_code::not_found,
                  fmt::format("step '{}' of workflow '{}' has no output: it "
                              "is {}",
                              *a.step, a.id, step->status));
    bytes = &step->output;
  } else {
    bytes = v->output();
    if (!bytes) {
      auto shown = shown_status(s->info, s->live);
      return fail(ctx, exit_code::not_found,
                  fmt::format("workflow '{}' has no output: it is {}{}", a.id,
                              shown, v->error.empty() ? "" : " (" + v->error + ")"));
    }
  }
  auto j = value_json(**bytes);
  if (!j)
    return fail(ctx, exit_code::storage,
                fmt::format("the output of '{}' does not decode as a perdure "
                            "payload",
                            a.id));
  ctx.out() << (ctx.json ? dump_compact(*j) : dump_pretty(*j)) << '\n';
  return 0;
}

namespace {

// An actor's state as of a point (replay_actor_state), printed.
template <class Stream>
int replay_actor(const context& ctx, const Stream& s, const std::string& id,
                 const std::string& point,
                 const std::function<bool(const eventlog::record_view&)>& stop) {
  auto replayed = replay_actor_state(*s.log, id, s.info.first_seq, stop);
  if (!replayed)
    return fail(ctx, replayed.error());
  if (auto st = fold_actor_state(*replayed, ctx.io->fold); !st)
    return fail(ctx, st);
  auto& state = replayed->state;
  auto at = replayed->state_seq;
  auto seen = replayed->last_seq;
  if (at == 0)
    return fail(ctx, exit_code::not_found,
                fmt::format("actor '{}' has no state at or before {}", id,
                            point));
  if (ctx.json) {
    json j = entry_json(s.info, shown_status(s.info, s.live), ctx.utc);
    j["as_of_seq"] = seen;
    j["state_seq"] = at;
    j["state"] = state;
    if (replayed->event_sourced) {
      j["event_sourced"] = true;
      j["folded"] = replayed->folded;
      j["events_since_state"] = replayed->events_json;
    }
    ctx.out() << dump_pretty(j) << '\n';
    return 0;
  }
  auto& ev = replayed->events_json;
  if (replayed->folded)
    ctx.out() << paint(fmt::format("actor '{}' as of {} (state of seq {} "
                                   "with the {} events after it folded; "
                                   "replayed through seq {} of {})",
                                   id, point, at, ev.size(), seen,
                                   s.info.last_seq),
                       style::bold, ctx.color);
  else
    ctx.out() << paint(fmt::format("actor '{}' as of {} (state of seq {}{}; "
                                   "replayed through seq {} of {})",
                                   id, point, at,
                                   ev.empty() ? ""
                                              : fmt::format(", before the "
                                                            "{} events below",
                                                            ev.size()),
                                   seen, s.info.last_seq),
                       style::bold, ctx.color);
  ctx.out() << "\n" << dump_pretty(state) << '\n';
  if (!replayed->folded && !ev.empty())
    print_unfolded_events(ctx, ev);
  return 0;
}

} // namespace

int cmd_replay(const context& ctx, const replay_args& a) {
  int code = 0;
  auto s = open_stream(ctx, a.id, code);
  if (!s)
    return code;
  std::function<bool(const eventlog::record_view&)> stop;
  std::string point;
  if (a.until) {
    if (*a.until < s->info.first_seq || *a.until > s->info.last_seq)
      return fail(ctx, exit_code::usage,
                  fmt::format("--until {} is outside the records of '{}' "
                              "(seq {}..{})",
                              *a.until, a.id, s->info.first_seq,
                              s->info.last_seq));
    auto until = *a.until;
    stop = [until](const eventlog::record_view& r) { return r.seq > until; };
    point = fmt::format("seq {}", until);
  } else if (a.as_of) {
    eventlog::time_ns t = 0;
    if (!parse_time(*a.as_of, ctx.utc, t))
      return fail(ctx, exit_code::usage,
                  fmt::format("--as-of '{}' is not a time (use "
                              "2025-03-01T14:02:03, optionally with .fraction "
                              "and Z or +hh:mm)",
                              *a.as_of));
    stop = [t](const eventlog::record_view& r) { return r.time > t; };
    point = human_time(t, ctx.utc);
  } else {
    return fail(ctx, exit_code::usage, "replay needs --until SEQ or --as-of TIME");
  }
  if (s->info.kind == eventlog::stream_kind::actor)
    return replay_actor(ctx, *s, a.id, point, stop);
  if (s->info.kind != eventlog::stream_kind::workflow)
    return need_workflow(ctx, s->info, "replay");
  auto v = build(*s->log, s->info, stop);
  if (!v)
    return fail(ctx, v.error());
  if (v->last_seq == 0)
    return fail(ctx, exit_code::not_found,
                fmt::format("workflow '{}' has no record at or before {}",
                            a.id, point));
  if (ctx.json) {
    json j = entry_json(s->info, shown_status(s->info, s->live), ctx.utc);
    j["as_of_seq"] = v->last_seq;
    j["workflow"] = workflow_json(*v, ctx.utc);
    ctx.out() << dump_pretty(j) << '\n';
    return 0;
  }
  ctx.out() << paint(fmt::format("workflow '{}' as of {} (replayed through "
                                 "seq {} of {})",
                                 a.id, point, v->last_seq, s->info.last_seq),
                     style::bold, ctx.color)
            << "\n";
  print_workflow(ctx, s->info, v->status, *v);
  return 0;
}

} // namespace perdure::tools
