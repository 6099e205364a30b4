// SPDX-License-Identifier: Apache-2.0
// verify, cancel and delete: checking and changing the storage.

#include "commands.hpp"
#include "format.hpp"
#include "payload_json.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/records/child.hpp"
#include "perdure/eventlog/records/runs.hpp"
#include "perdure/eventlog/records/workflow.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/recovery.hpp"

#include <algorithm>
#include <chrono>
#include <tuple>
#include <ostream>
#include <set>

#include <fmt/format.h>

namespace perdure::tools {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Draws "verifying [=====     ]  45%  450,000 / 1,000,000 entries" on the
// terminal, once the scan has run long enough to need it.
class progress_bar {
 public:
  progress_bar(std::ostream& err, bool enabled) : err_(err), enabled_(enabled) {
  }

  void update(std::uint64_t done, std::uint64_t total) {
    total_ = total;
    if (!enabled_ || seconds_since(start_) < 0.3)
      return;
    auto now = clock_type::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds{100} && done < total)
      return;
    last_ = now;
    drawn_ = true;
    constexpr int width = 30;
    double frac = total ? static_cast<double>(done) / total : 1;
    int fill = static_cast<int>(frac * width);
    err_ << fmt::format("\rverifying [{}{}] {:3.0f}%  {} / {} entries",
                        std::string(static_cast<std::size_t>(fill), '='),
                        std::string(static_cast<std::size_t>(width - fill), ' '),
                        frac * 100, group_digits(done), group_digits(total))
         << std::flush;
  }

  void clear() {
    if (drawn_)
      err_ << "\r\x1b[K" << std::flush;
  }

  std::uint64_t total() const noexcept {
    return total_;
  }

 private:
  std::ostream& err_;
  bool enabled_;
  bool drawn_ = false;
  std::uint64_t total_ = 0;
  clock_type::time_point start_ = clock_type::now();
  clock_type::time_point last_{};
};


// After a conflict: the stream's entry again; false (with `code` set) when
// it is gone or cannot be read.
bool reread(const context& ctx, opened& s, const std::string& id, int& code) {
  auto info = s.log->info(id);
  if (!info) {
    code = info.error() == errc::not_found ? fail_unknown_id(ctx, id)
                                           : fail(ctx, info.error());
    return false;
  }
  s.info = std::move(*info);
  return true;
}

} // namespace

int cmd_verify(const context& ctx, bool progress) {
  // The journal and its checkpoints first (a live engine is writing them;
  // it checked them at its open): a storage whose recovery cannot be
  // proven is damage, and opening it would be refused.
  if (!engine_pid(ctx.storage))
    if (auto plan = eventlog::plan_recovery(ctx.storage);
        plan && plan->what == eventlog::recovery_plan::action::refuse) {
      if (ctx.json)
        ctx.out() << dump_pretty(json{{"ok", false},
                                      {"storage", ctx.storage.string()},
                                      {"damage",
                                       json::array({{{"stream", "(journal)"},
                                                     {"seq", 0},
                                                     {"what", plan->reason}}})}})
                  << '\n';
      else
        ctx.out() << paint("damage", style::red, ctx.color)
                  << ": the journal or data.mdb: " << plan->reason
                  << " (see `perdure recover --dry-run`)\n";
      return static_cast<int>(exit_code::damage);
    }
  auto log = open_for_reading(ctx);
  if (!log)
    return fail(ctx, log.error());
  progress_bar bar{ctx.err(), progress};
  auto t0 = clock_type::now();
  auto found = (*log)->verify(
    [&](std::uint64_t done, std::uint64_t total) { bar.update(done, total); });
  if (!found) {
    bar.clear();
    return fail(ctx, found.error());
  }
  // The log checks envelopes; perdure's own payloads (every kind but `user`)
  // must also be well-formed FlexBuffers, or no tool can show them.
  auto checked = bar.total();
  auto streams_all = (*log)->list();
  if (!streams_all) {
    bar.clear();
    return fail(ctx, streams_all.error());
  }
  std::uint64_t records = 0, done = 0;
  for (auto& info : *streams_all)
    records += record_count(info);
  for (auto& info : *streams_all) {
    eventlog::seq_t next = info.first_seq ? info.first_seq : 1;
    for (;;) {
      auto st = (*log)->scan(info.id, next, [&](const eventlog::record_view& r) {
        next = r.seq + 1;
        if (r.kind != to_u16(eventlog::record_kind::user) && !r.payload.empty())
          if (auto v = codec::validate(r.payload); !v)
            found->push_back({info.id, r.seq,
                              fmt::format("{} payload: {}",
                                          eventlog::kind_name(r.kind),
                                          v.message())});
        if ((++done & 0xFFFF) == 0)
          bar.update(done, records);
        return true;
      });
      // The log's pass already reported the damaged record that stopped this
      // scan; go on after it.
      if (st.code() == errc::corruption && next <= info.last_seq) {
        ++next;
        continue;
      }
      if (!st) {
        bar.clear();
        return fail(ctx, st);
      }
      break;
    }
  }
  auto secs = seconds_since(t0);
  bar.clear();
  std::stable_sort(found->begin(), found->end(), [](auto& a, auto& b) {
    return std::tie(a.stream, a.seq) < std::tie(b.stream, b.seq);
  });
  std::set<std::string> streams;
  for (auto& d : *found)
    streams.insert(d.stream);
  if (ctx.json) {
    auto arr = json::array();
    for (auto& d : *found)
      arr.push_back({{"stream", d.stream}, {"seq", d.seq}, {"what", d.what}});
    json j{{"ok", found->empty()},
           {"storage", ctx.storage.string()},
           {"entries", checked},
           {"payloads", done},
           {"seconds", secs},
           {"damaged_streams", streams.size()},
           {"damage", std::move(arr)}};
    ctx.out() << dump_pretty(j) << '\n';
  } else if (found->empty()) {
    ctx.out() << paint("ok", style::green, ctx.color) << ": "
              << group_digits(checked) << " entries and "
              << group_digits(done) << " payloads verified in "
              << human_duration(static_cast<std::int64_t>(secs * 1e9))
              << ", no damage\n";
  } else {
    table t{{"STREAM", "SEQ", "PROBLEM"}, {1}};
    for (auto& d : *found)
      t.add({d.stream, d.seq ? std::to_string(d.seq) : std::string{"-"},
             cell{d.what, style::red}});
    t.print(ctx.out(), ctx.color);
    ctx.out() << paint("damage", style::red, ctx.color) << ": "
              << found->size() << (found->size() == 1 ? " problem" : " problems")
              << " in " << streams.size()
              << (streams.size() == 1 ? " stream" : " streams") << " ("
              << group_digits(checked) << " entries verified in "
              << human_duration(static_cast<std::int64_t>(secs * 1e9)) << ")\n";
  }
  return static_cast<int>(found->empty() ? exit_code::ok : exit_code::damage);
}

namespace {

// Cancels the running children of `parent` (and theirs), as
// engine::cancel does; their engine notices as it does for the parent.
// Returns the ids canceled.
result<std::vector<std::string>> cancel_children(eventlog::event_log& log,
                                                 const std::string& parent) {
  std::vector<std::string> done;
  auto kids = records::read_children(log, parent);
  if (!kids)
    return std::move(kids).error();
  for (auto& c : *kids) {
    for (int round = 0; round < 20; ++round) {
      auto info = log.info(c.child);
      if (!info || info->status != "running")
        break;
      eventlog::write_batch b;
      b.expect_last(c.child, info->last_seq);
      b.append(c.child, to_u16(eventlog::record_kind::workflow_canceled),
               codec::encode(records::workflow_ended{.requested_by = "cli"}));
      b.set_status(c.child,
                   records::status_string(records::stored_status::canceled));
      auto r = log.commit(std::move(b));
      if (!r && r.error() == errc::conflict)
        continue;
      if (!r)
        return std::move(r).error();
      done.push_back(c.child);
      break;
    }
    auto more = cancel_children(log, c.child);
    if (!more)
      return more;
    done.insert(done.end(), more->begin(), more->end());
  }
  return done;
}

} // namespace

int cmd_cancel(const context& ctx, const std::string& id) {
  int code = 0;
  auto s = open_stream(ctx, id, code,
                       {.write = true,
                        .kind = eventlog::stream_kind::workflow,
                        .command = "cancel"});
  if (!s)
    return code;
  // The engine may append between our read and our write; the expect_last
  // check turns that into a conflict, and we look again.
  for (int round = 0;; ++round) {
    auto& info = s->info;
    if (info.status == "canceled")
      return fail(ctx, exit_code::refused,
                  fmt::format("workflow '{}' is already canceled", id));
    if (info.status != "running" && info.status != "failed")
      return fail(ctx, exit_code::refused,
                  fmt::format("workflow '{}' already finished ({}); there is "
                              "nothing to cancel",
                              id, info.status));
    eventlog::write_batch b;
    b.expect_last(id, info.last_seq);
    b.append(id, to_u16(eventlog::record_kind::workflow_canceled),
             codec::encode(records::workflow_ended{.requested_by = "cli"}));
    b.set_status(id, records::status_string(records::stored_status::canceled));
    auto done = s->log->commit(std::move(b));
    if (!done && done.error() == errc::conflict && round < 20) {
      if (!reread(ctx, *s, id, code))
        return code;
      continue;
    }
    if (!done)
      return fail(ctx, done.error());
    auto seq = done->seqs.empty() ? 0 : done->seqs.front();
    auto kids = cancel_children(*s->log, id);
    if (!kids)
      return fail(ctx, kids.error());
    if (ctx.json)
      ctx.out() << dump_pretty(json{{"id", id},
                                    {"canceled", true},
                                    {"previous_status", info.status},
                                    {"seq", seq},
                                    {"children_canceled", *kids}})
                << '\n';
    else
      ctx.out() << "canceled workflow '" << id << "' (was " << info.status
                << "; record seq " << seq << ")\n";
    for (auto& k : ctx.json ? std::vector<std::string>{} : *kids)
      ctx.out() << "canceled child workflow '" << k << "'\n";
    return 0;
  }
}

int cmd_delete(const context& ctx, const std::string& id) {
  int code = 0;
  auto s = open_stream(ctx, id, code, {.write = true});
  if (!s)
    return code;
  for (int round = 0;; ++round) {
    auto& info = s->info;
    if (info.kind == eventlog::stream_kind::workflow
        && info.status == "running" && s->engine)
      return fail(ctx, exit_code::refused,
                  fmt::format("workflow '{}' is running (engine pid {} holds "
                              "{}); cancel it first: perdure cancel {}",
                              id, *s->engine, ctx.storage.string(), id));
    eventlog::write_batch b;
    b.expect_last(id, info.last_seq);
    b.remove(id);
    // A workflow's pending signals go with it, as engine::remove does.
    if (info.kind == eventlog::stream_kind::workflow) {
      if (auto sig = records::signal_stream(id); s->log->info(sig))
        b.remove(sig);
      // And its earlier runs (continue-as-new).
      auto runs = records::archived_runs(*s->log, id);
      if (!runs)
        return fail(ctx, runs.error());
      for (auto n : *runs)
        b.remove(records::run_stream(id, n));
    }
    auto done = s->log->commit(std::move(b));
    if (!done && done.error() == errc::conflict && round < 20) {
      if (!reread(ctx, *s, id, code))
        return code;
      continue;
    }
    if (!done)
      return fail(ctx, done.error());
    auto kind = std::string{eventlog::to_string(info.kind)};
    auto shown = shown_status(info, s->live);
    if (ctx.json)
      ctx.out() << dump_pretty(json{{"id", id},
                                    {"deleted", true},
                                    {"kind", kind},
                                    {"status", shown},
                                    {"records", record_count(info)}})
                << '\n';
    else
      ctx.out() << "deleted " << kind << " '" << id << "' ("
                << group_digits(record_count(info)) << " records, was "
                << (shown.empty() ? "-" : shown) << ")\n";
    return 0;
  }
}

} // namespace perdure::tools
