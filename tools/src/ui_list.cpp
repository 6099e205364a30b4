// SPDX-License-Identifier: Apache-2.0
// The list page of `perdure ui`: filters, id prefix and cursor paging.

#include "ui.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace perdure::tools {

namespace {

const std::vector<std::string> statuses = {"running", "resumable", "failed",
                                           "canceled", "successful"};

std::optional<eventlog::stream_kind> kind_of(const std::string& k) {
  using eventlog::stream_kind;
  for (auto kind : {stream_kind::other, stream_kind::workflow,
                    stream_kind::actor, stream_kind::listener,
                    stream_kind::dead_letter})
    if (eventlog::to_string(kind) == k)
      return kind;
  return std::nullopt;
}

} // namespace

result<list_page_result> list_page(const eventlog::event_log& log,
                                   const list_page_args& a, bool live) {
  std::optional<eventlog::stream_kind> kind;
  if (a.kind) {
    kind = kind_of(*a.kind);
    if (!kind)
      return status{errc::invalid_argument,
                    fmt::format("unknown kind '{}' (workflow, actor, "
                                "listener, dead_letter, other)", *a.kind)};
  }
  for (auto& s : a.statuses)
    if (std::find(statuses.begin(), statuses.end(), s) == statuses.end())
      return status{errc::invalid_argument,
                    fmt::format("unknown status '{}' (running, resumable, "
                                "failed, canceled, successful)", s)};
  std::vector<eventlog::stream_info> all;
  if (a.statuses.empty()) {
    // The first page without a prefix reads only what it shows; the
    // others read the directory in id order and skip (see README).
    bool cheap = a.after.empty() && a.prefix.empty();
    auto found = log.list(kind, cheap ? a.limit + 1 : SIZE_MAX);
    if (!found)
      return found.error();
    all = std::move(*found);
  } else {
    std::set<std::string> stored;
    for (auto& s : a.statuses)
      stored.insert(s == "resumable" ? "running" : s);
    for (auto& s : stored) {
      auto found = log.list_by_status(s);
      if (!found)
        return found.error();
      for (auto& info : *found) {
        if (kind && info.kind != *kind)
          continue;
        auto shown = shown_status(info, live);
        if (std::find(a.statuses.begin(), a.statuses.end(), shown)
            != a.statuses.end())
          all.push_back(std::move(info));
      }
    }
    std::sort(all.begin(), all.end(),
              [](auto& x, auto& y) { return x.id < y.id; });
  }
  list_page_result out;
  for (auto& info : all) {
    if (!a.after.empty() && info.id <= a.after)
      continue;
    if (!info.id.starts_with(a.prefix))
      continue;
    if (out.items.size() == a.limit) {
      out.next = out.items.back().id;
      break;
    }
    out.items.push_back(std::move(info));
  }
  return out;
}

} // namespace perdure::tools
