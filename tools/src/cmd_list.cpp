// SPDX-License-Identifier: Apache-2.0
// list and stats: what the storage holds.

#include "commands.hpp"
#include "format.hpp"
#include "payload_json.hpp"
#include "perdure/version.hpp"

#include <map>
#include <ostream>
#include <set>

#include <fmt/format.h>

namespace perdure::tools {

int cmd_list(const context& ctx, const list_args& a) {
  auto log = open_for_reading(ctx);
  if (!log)
    return fail(ctx, log.error());
  bool live = engine_pid(ctx.storage).has_value();
  auto page = list_page(**log, a, live);
  if (!page)
    return fail(ctx, page.error());
  auto* streams = &page->items;
  if (ctx.json) {
    auto arr = json::array();
    for (auto& info : *streams)
      arr.push_back(entry_json(info, shown_status(info, live), ctx.utc));
    ctx.out() << dump_pretty(arr) << '\n';
    return 0;
  }
  if (streams->empty()) {
    bool filtered = !a.statuses.empty() || a.kind || !a.prefix.empty()
                    || !a.after.empty();
    ctx.out() << "no streams" << (filtered ? " match" : "") << " in "
              << ctx.storage.string() << '\n';
    return 0;
  }
  table t{{"ID", "KIND", "STATUS", "RECORDS", "CREATED", "UPDATED"}, {3}};
  for (auto& info : *streams) {
    auto shown = shown_status(info, live);
    t.add({info.id, std::string{eventlog::to_string(info.kind)},
           cell{shown, status_style(shown)}, group_digits(record_count(info)),
           human_time(info.created, ctx.utc),
           human_time(info.updated, ctx.utc)});
  }
  t.print(ctx.out(), ctx.color);
  return 0;
}

int cmd_stats(const context& ctx) {
  auto log = open_for_reading(ctx);
  if (!log)
    return fail(ctx, log.error());
  auto pid = engine_pid(ctx.storage);
  auto streams = (*log)->list();
  if (!streams)
    return fail(ctx, streams.error());
  std::map<std::string, std::uint64_t> by_kind, by_status;
  std::uint64_t records = 0;
  for (auto& info : *streams) {
    ++by_kind[std::string{eventlog::to_string(info.kind)}];
    auto shown = shown_status(info, pid.has_value());
    ++by_status[shown.empty() ? "(none)" : shown];
    records += record_count(info);
  }
  auto timers = (*log)->timers_due(INT64_MAX);
  if (!timers)
    return fail(ctx, timers.error());
  std::error_code ec;
  auto file_size = std::filesystem::file_size(ctx.storage / "data.mdb", ec);
  if (ec)
    file_size = 0;
  auto map_size = (*log)->stats().map_size;
  double usage = map_size ? static_cast<double>(file_size) / map_size : 0;

  if (ctx.json) {
    json j;
    j["storage"] = ctx.storage.string();
    // An open storage has the format this build reads (others are refused).
    j["format_version"] = eventlog::storage_format_version;
    j["perdure_version"] = std::string{perdure::version()};
    j["engine_pid"] = pid ? json(*pid) : json(nullptr);
    j["streams"] = streams->size();
    j["streams_by_kind"] = by_kind;
    j["streams_by_status"] = by_status;
    j["records"] = records;
    j["timers"] = timers->size();
    j["map_size"] = map_size;
    j["data_file_size"] = file_size;
    j["map_usage"] = usage;
    ctx.out() << dump_pretty(j) << '\n';
    return 0;
  }
  std::vector<std::pair<std::string, cell>> f;
  f.emplace_back("storage", ctx.storage.string());
  f.emplace_back("format", fmt::format("version {} (perdure {})",
                                       eventlog::storage_format_version,
                                       perdure::version()));
  f.emplace_back("engine", pid ? fmt::format("running (pid {})", *pid)
                               : std::string{"none running"});
  f.emplace_back("streams", group_digits(streams->size()));
  f.emplace_back("records", group_digits(records));
  f.emplace_back("timers", group_digits(timers->size()));
  f.emplace_back("map size", human_size(map_size));
  f.emplace_back("data.mdb", fmt::format("{} ({:.1f}% of the map)",
                                         human_size(file_size), usage * 100));
  print_fields(ctx.out(), f, ctx.color);
  if (!by_kind.empty()) {
    ctx.out() << '\n';
    table t{{"KIND", "STREAMS"}, {1}};
    for (auto& [k, n] : by_kind)
      t.add({k, group_digits(n)});
    t.print(ctx.out(), ctx.color);
    ctx.out() << '\n';
    table s{{"STATUS", "STREAMS"}, {1}};
    for (auto& [k, n] : by_status)
      s.add({cell{k, status_style(k)}, group_digits(n)});
    s.print(ctx.out(), ctx.color);
  }
  return 0;
}

} // namespace perdure::tools
