// SPDX-License-Identifier: Apache-2.0
// `schedule list|pause|resume|delete`: the schedules stored in the storage
// (perdure/eventlog/records/schedule.hpp), changed beside a running engine
// (it reads a schedule's state again at each tick).

#include "commands.hpp"
#include "format.hpp"
#include "payload_json.hpp"

#include "perdure/eventlog/records/schedule.hpp"

#include <fmt/format.h>

#include <chrono>
#include <ostream>

namespace perdure::tools {

namespace sr = schedule_records;

int cmd_schedule_list(const context& ctx) {
  auto log = open_for_reading(ctx);
  if (!log)
    return fail(ctx, log.error());
  auto all = sr::list_schedules(**log);
  if (!all)
    return fail(ctx, all.error());
  if (ctx.json) {
    json out = json::array();
    for (auto& s : *all) {
      json j{{"name", s.name},
             {"spec", s.meta.spec},
             {"catch_up", s.meta.catch_up},
             {"paused", s.meta.paused},
             {"last_tick", nullptr}};
      if (s.last_tick_ns) {
        j["last_tick"] = iso_time(*s.last_tick_ns, true);
        j["last_tick_ns"] = *s.last_tick_ns;
      }
      out.push_back(std::move(j));
    }
    ctx.out() << dump_pretty(out) << '\n';
    return 0;
  }
  if (all->empty()) {
    ctx.out() << "no schedules\n";
    return 0;
  }
  table t{{"NAME", "SPEC", "CATCH-UP", "STATE", "LAST TICK"}, {}};
  for (auto& s : *all)
    t.add({s.name, s.meta.spec, s.meta.catch_up,
           s.meta.paused ? "paused" : "active",
           s.last_tick_ns ? human_time(*s.last_tick_ns, ctx.utc) : "-"});
  t.print(ctx.out(), ctx.color);
  return 0;
}

int cmd_schedule_change(const context& ctx, const std::string& what,
                        const std::string& name) {
  auto log = open_for_writing(ctx);
  if (!log)
    return fail(ctx, log.error());
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  auto st = what == "delete" ? sr::remove_schedule(**log, name)
                             : sr::set_paused(**log, name, what == "pause",
                                              now);
  if (!st) {
    if (st == errc::not_found)
      return fail(ctx, exit_code::not_found,
                  fmt::format("no schedule '{}' in {} (try 'perdure "
                              "schedule list')",
                              name, ctx.storage.string()));
    return fail(ctx, st);
  }
  auto done = what == "pause"    ? "paused"
              : what == "resume" ? "resumed"
                                 : "deleted";
  if (ctx.json)
    ctx.out() << dump_pretty(json{{"name", name}, {done, true}}) << '\n';
  else
    ctx.out() << fmt::format("schedule '{}' {}\n", name, done);
  return 0;
}

} // namespace perdure::tools
