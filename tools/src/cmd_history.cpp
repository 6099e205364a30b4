// SPDX-License-Identifier: Apache-2.0
// history (optionally following a live stream) and export.

#include "commands.hpp"
#include "format.hpp"
#include "payload_json.hpp"

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/runs.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <ostream>
#include <thread>

#include <fmt/format.h>

namespace perdure::tools {

namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_sigint(int) {
  interrupted.store(true);
}

// Installs the SIGINT handler for the lifetime of the object.
class sigint_guard {
 public:
  sigint_guard() {
    interrupted.store(false);
    struct sigaction sa{};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_);
  }
  ~sigint_guard() {
    ::sigaction(SIGINT, &old_, nullptr);
  }
  sigint_guard(const sigint_guard&) = delete;
  sigint_guard& operator=(const sigint_guard&) = delete;

 private:
  struct sigaction old_{};
};

json record_json(const eventlog::record_view& r, bool utc) {
  return json{{"seq", r.seq},
              {"time", iso_time(r.time, utc)},
              {"time_ns", r.time},
              {"kind", r.kind},
              {"kind_name", std::string{eventlog::kind_name(r.kind)}},
              {"writer", std::string{r.writer}},
              {"payload", payload_json(r.kind, r.payload)}};
}

// Prints one record as a human line: seq, time, kind, writer, payload.
void print_line(const context& ctx, const eventlog::record_view& r,
                std::size_t seq_width, std::size_t writer_width) {
  auto kind = std::string{eventlog::kind_name(r.kind)};
  auto payload = dump_compact(payload_json(r.kind, r.payload));
  auto look = r.kind == to_u16(eventlog::record_kind::step_failed)
                  || r.kind == to_u16(eventlog::record_kind::workflow_failed)
                ? style::red
              : r.kind == to_u16(eventlog::record_kind::workflow_succeeded)
                ? style::green
                : style::cyan;
  auto pad = [](std::string s, std::size_t w) {
    if (s.size() < w)
      s.append(w - s.size(), ' ');
    return s;
  };
  ctx.out() << fmt::format("{:>{}}", r.seq, seq_width) << "  "
            << human_time(r.time, ctx.utc) << "  "
            << paint(pad(kind, 18), look, ctx.color) << "  "
            << paint(pad(std::string{r.writer}, writer_width), style::dim, ctx.color)
            << "  " << payload << '\n';
}

// The live run's number (its workflow_submitted is the stream's first
// record; 1 when it cannot tell).
std::uint32_t live_run(const eventlog::event_log& log, const std::string& id) {
  std::uint32_t run = 1;
  auto st = log.scan(id, 1, [&](const eventlog::record_view& r) {
    if (r.kind == to_u16(eventlog::record_kind::workflow_submitted))
      if (auto v = codec::decode<records::workflow_submitted>(r.payload))
        run = v->run;
    return false;
  });
  (void) st;
  return run;
}

// `history ID --run N` of a kept earlier run: its records as first stored.
int print_run(const context& ctx, const eventlog::event_log& log,
              const history_args& a, std::uint32_t live) {
  auto recs = records::read_run(log, a.id, *a.run);
  if (!recs && recs.error() == errc::not_found) {
    auto kept = records::archived_runs(log, a.id);
    auto list = std::string{"none"};
    if (kept && !kept->empty())
      list = fmt::format("{}-{}", kept->front(), kept->back());
    return fail(ctx, exit_code::not_found,
                fmt::format("run {} of workflow '{}' is not kept (kept "
                            "earlier runs: {}; live run: {})",
                            *a.run, a.id, list, live));
  }
  if (!recs)
    return fail(ctx, recs.error());
  if (a.follow)
    return fail(ctx, exit_code::usage,
                fmt::format("run {} of '{}' has ended: --follow applies to "
                            "the live run ({})",
                            *a.run, a.id, live));
  auto views = [&](const eventlog::record& r) {
    return eventlog::record_view{r.seq, r.kind, r.time, r.writer, r.payload};
  };
  if (ctx.json) {
    auto arr = json::array();
    for (auto& r : *recs)
      if (r.seq >= a.from)
        arr.push_back(record_json(views(r), ctx.utc));
    ctx.out() << dump_pretty(arr) << '\n';
    return 0;
  }
  std::size_t seq_width = 3, writer_width = 12;
  for (auto& r : *recs) {
    seq_width = std::max(seq_width, std::to_string(r.seq).size());
    writer_width = std::max(writer_width, r.writer.size());
  }
  ctx.out() << paint(fmt::format("run {} of {} (ended; the live run is {})",
                                 *a.run, a.id, live),
                     style::dim, ctx.color)
            << '\n'
            << paint(fmt::format("{:>{}}  {:<{}}  {:<18}  {:<{}}  {}", "SEQ",
                                 seq_width, "TIME", ctx.utc ? 24 : 23, "KIND",
                                 "WRITER", writer_width, "PAYLOAD"),
                     style::bold, ctx.color)
            << '\n';
  for (auto& r : *recs)
    if (r.seq >= a.from)
      print_line(ctx, views(r), seq_width, writer_width);
  return 0;
}

} // namespace

int cmd_history(const context& ctx, const history_args& a) {
  auto log = open_for_reading(ctx);
  if (!log)
    return fail(ctx, log.error());
  auto info = (*log)->info(a.id);
  if (!info)
    return info.error() == errc::not_found ? fail_unknown_id(ctx, a.id)
                                           : fail(ctx, info.error());
  if (a.run) {
    if (info->kind != eventlog::stream_kind::workflow)
      return fail(ctx, exit_code::refused,
                  fmt::format("'{}' is not a workflow: --run applies to "
                              "workflows",
                              a.id));
    auto live = live_run(**log, a.id);
    if (*a.run != live)
      return print_run(ctx, **log, a, live);
  }
  auto seq_width = std::max<std::size_t>(3, std::to_string(info->last_seq).size());
  // Streams are mostly written by one engine: its id sets the column width.
  std::size_t writer_width = 12;
  if (auto last = (*log)->read_last(a.id))
    writer_width = std::max(writer_width, last->writer.size());
  if (!ctx.json && !a.follow)
    ctx.out() << paint(fmt::format("{:>{}}  {:<{}}  {:<18}  {:<{}}  {}", "SEQ",
                                   seq_width, "TIME", ctx.utc ? 24 : 23,
                                   "KIND", "WRITER",
                                   writer_width, "PAYLOAD"),
                       style::bold, ctx.color)
              << '\n';
  bool first = true;
  bool array = ctx.json && !a.follow;
  if (array)
    ctx.out() << "[";
  eventlog::seq_t next = std::max<eventlog::seq_t>(a.from, 1);
  auto emit = [&](const eventlog::record_view& r) {
    if (ctx.json) {
      auto text = array ? dump_pretty(record_json(r, ctx.utc))
                        : dump_compact(record_json(r, ctx.utc));
      ctx.out() << (array ? (first ? "\n" : ",\n") : "") << text
                << (array ? "" : "\n");
    } else {
      print_line(ctx, r, seq_width, writer_width);
    }
    first = false;
    next = r.seq + 1;
    return true;
  };
  auto st = (*log)->scan(a.id, next, emit);
  if (!st)
    return fail(ctx, st);
  if (array)
    ctx.out() << (first ? "]\n" : "\n]\n");
  if (!a.follow)
    return 0;

  // Follow: poll the stream; a read-only LMDB reader sees each new commit
  // in its next transaction. Stop when a workflow has ended (its last
  // records printed), on SIGINT or after the timeout.
  auto ended = [&](const eventlog::stream_info& i) {
    auto s = records::parse_status(i.status);
    return i.kind == eventlog::stream_kind::workflow && s && records::ended(*s);
  };
  auto say_ended = [&](const eventlog::stream_info& i) {
    ctx.out().flush();
    if (!ctx.json)
      ctx.err() << fmt::format("history: workflow '{}' ended: {}\n", a.id,
                               i.status);
    return 0;
  };
  if (ended(*info))
    return say_ended(*info);
  ctx.out().flush();
  sigint_guard guard;
  using clock = std::chrono::steady_clock;
  auto deadline = a.follow_timeout > 0
                    ? clock::now()
                        + std::chrono::duration_cast<clock::duration>(
                          std::chrono::duration<double>(a.follow_timeout))
                    : clock::time_point::max();
  while (!interrupted.load() && clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    // The status first: a status read before the scan cannot miss records
    // committed with it.
    auto now = (*log)->info(a.id);
    st = now ? (*log)->scan(a.id, next, emit) : now.error();
    if (st.code() == errc::not_found)
      return fail(ctx, exit_code::not_found,
                  fmt::format("'{}' was deleted while following it", a.id));
    if (!st)
      return fail(ctx, st);
    ctx.out().flush();
    if (ended(*now))
      return say_ended(*now);
  }
  return 0;
}

int cmd_export(const context& ctx, const std::string& id) {
  auto log = open_for_reading(ctx);
  if (!log)
    return fail(ctx, log.error());
  auto info = (*log)->info(id);
  if (!info)
    return info.error() == errc::not_found ? fail_unknown_id(ctx, id)
                                           : fail(ctx, info.error());
  auto live = engine_pid(ctx.storage).has_value();
  json head;
  head["format"] = "perdure-export";
  head["version"] = 1;
  head["storage"] = ctx.storage.string();
  head["exported_at"] = iso_time(eventlog::now_ns(), ctx.utc);
  head["entry"] = entry_json(*info, shown_status(*info, live), ctx.utc);
  // Stream the records: an export may hold more than fits in a json value.
  auto text = dump_pretty(head);
  text.pop_back(); // the closing brace; "records" follows
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  ctx.out() << text << ",\n  \"records\": [";
  bool first = true;
  auto st = (*log)->scan(id, 1, [&](const eventlog::record_view& r) {
    auto j = record_json(r, ctx.utc);
    j["payload_base64"] = base64_encode(r.payload);
    ctx.out() << (first ? "\n    " : ",\n    ") << dump_compact(j);
    first = false;
    return true;
  });
  if (!st) {
    ctx.out() << "\n";
    return fail(ctx, st);
  }
  ctx.out() << (first ? "]\n}\n" : "\n  ]\n}\n");
  return 0;
}

} // namespace perdure::tools
