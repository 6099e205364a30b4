// SPDX-License-Identifier: Apache-2.0
// `projection status` and `projection reset NAME`: the projections stored
// in the storage (perdure/eventlog/records/projection.hpp), read and reset
// without the application's code.

#include "commands.hpp"
#include "payload_json.hpp"

#include "perdure/eventlog/records/projection.hpp"

#include <fmt/format.h>

#include <ostream>

namespace perdure::tools {

namespace pr = projection_records;

int cmd_projection_status(const context& ctx) {
  auto log = open_for_reading(ctx);
  if (!log)
    return fail(ctx, log.error());
  auto all = pr::list_projections(**log);
  if (!all)
    return fail(ctx, all.error());
  if (ctx.json) {
    json out = json::array();
    for (auto& p : *all)
      out.push_back({{"name", p.name},
                     {"source", p.meta.source},
                     {"mode", p.meta.exactly_once ? "exactly-once"
                                                  : "at-least-once"},
                     {"position", p.position},
                     {"head", p.head},
                     {"lag", p.lag()}});
    ctx.out() << dump_pretty(out) << '\n';
    return 0;
  }
  if (all->empty()) {
    ctx.out() << "no projections\n";
    return 0;
  }
  ctx.out() << fmt::format("{:<24} {:<20} {:<14} {:>10} {:>10} {:>10}\n",
                           "NAME", "SOURCE", "MODE", "POSITION", "HEAD",
                           "LAG");
  for (auto& p : *all)
    ctx.out() << fmt::format(
      "{:<24} {:<20} {:<14} {:>10} {:>10} {:>10}\n", p.name, p.meta.source,
      p.meta.exactly_once ? "exactly-once" : "at-least-once", p.position,
      p.head, p.lag());
  return 0;
}

int cmd_projection_reset(const context& ctx, const std::string& name) {
  if (auto pid = engine_pid(ctx.storage))
    return fail(ctx, exit_code::refused,
                fmt::format("an engine (pid {}) holds {}; stop it, or reset "
                            "'{}' from the application "
                            "(perdure::reset_projection)",
                            *pid, ctx.storage.string(), name));
  auto log = open_for_writing(ctx);
  if (!log)
    return fail(ctx, log.error());
  auto rows = pr::read_rows(**log, name);
  if (!rows)
    return fail(ctx, rows.error());
  if (auto st = pr::reset_projection(**log, name); !st) {
    if (st == errc::not_found)
      return fail(ctx, exit_code::not_found,
                  fmt::format("no projection '{}' in {} (try 'perdure "
                              "projection status')",
                              name, ctx.storage.string()));
    return fail(ctx, st);
  }
  if (ctx.json)
    ctx.out() << dump_pretty(json{{"name", name},
                                  {"reset", true},
                                  {"rows_dropped", rows->size()}})
              << '\n';
  else
    ctx.out() << fmt::format("reset projection '{}': {} rows dropped; it "
                             "rebuilds from the first event when it runs "
                             "next\n",
                             name, rows->size());
  return 0;
}

} // namespace perdure::tools
