// SPDX-License-Identifier: Apache-2.0
// One page of the stream list, shared by `perdure list` and the UI's
// /api/list: filters, id prefix and cursor paging, each page read with
// keyed seeks (event_log::list_prefix, list_by_status with `after`) so it
// costs the same with a million other streams.

#include "commands.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
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

// The greatest id that sorts before every id starting with `prefix` (in
// practice: ids are text, and no id continues with the byte 0xff): the
// `after` that makes a status-index walk begin at the prefix.
std::string before(const std::string& prefix) {
  if (prefix.empty())
    return {};
  auto out = prefix.substr(0, prefix.size() - 1);
  auto last = static_cast<unsigned char>(prefix.back());
  if (last > 0) {
    out += static_cast<char>(last - 1);
    out += '\xff';
  }
  return out;
}

using fetch_fn = std::function<result<std::vector<eventlog::stream_info>>(
  const std::string& after, std::size_t n)>;

// What one source (the directory under a prefix, or one status) gave.
struct scanned {
  std::vector<eventlog::stream_info> kept;
  /// Set when the budget ran out first: the last id read. Nothing after it
  /// was looked at, so a page may only hold ids up to it.
  std::optional<std::string> horizon;
};

// Reads `fetch` pages in id order from `after` on, keeping the entries
// `keep` accepts, until `want` are kept, the source ends, an id leaves
// `prefix`, or `budget` entries were read (which sets the horizon). Each
// read asks for what is still wanted, at least `chunk` (a filter that
// may reject entries reads on in chunks).
template <class Keep>
result<scanned> scan(const fetch_fn& fetch, std::string after,
                     const std::string& prefix, std::size_t want,
                     std::size_t budget, std::size_t chunk, Keep&& keep) {
  scanned out;
  std::size_t read = 0;
  while (out.kept.size() < want) {
    std::size_t left = budget - read;
    if (left == 0) {
      out.horizon = after;
      break;
    }
    auto n = std::min(left, std::max(want - out.kept.size(), chunk));
    auto page = fetch(after, n);
    if (!page)
      return std::move(page).error();
    for (auto& info : *page) {
      if (!info.id.starts_with(prefix))
        return out; // past the prefix: nothing further matches
      after = info.id;
      if (keep(info)) {
        out.kept.push_back(std::move(info));
        if (out.kept.size() == want)
          return out;
      }
    }
    read += page->size();
    if (page->size() < n)
      break; // the source ended
  }
  return out;
}

} // namespace

result<list_page_result> list_page(const eventlog::event_log& log,
                                   const list_args& a, bool live) {
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
  if (a.limit == 0)
    return list_page_result{};
  // One more than the page: whether a next page exists.
  auto want = a.limit == SIZE_MAX ? a.limit : a.limit + 1;
  auto budget = std::max<std::size_t>(a.budget, 1);
  auto kind_ok = [&](const eventlog::stream_info& info) {
    return !kind || info.kind == *kind;
  };
  std::vector<scanned> sources;
  if (a.statuses.empty()) {
    fetch_fn dir = [&](const std::string& after, std::size_t n) {
      return log.list_prefix(a.prefix, after, n);
    };
    auto s = scan(dir, a.after, a.prefix, want, budget, kind ? 1024 : 0,
                  kind_ok);
    if (!s)
      return std::move(s).error();
    sources.push_back(std::move(*s));
  } else {
    // Each stored status is a source in id order ("resumable" is stored
    // "running"); the page is their merge.
    auto wanted = [&](const std::string& shown) {
      return std::find(a.statuses.begin(), a.statuses.end(), shown)
             != a.statuses.end();
    };
    std::set<std::string> stored;
    for (auto& s : a.statuses)
      stored.insert(s == "resumable" ? "running" : s);
    auto from = std::max(a.after, before(a.prefix));
    for (auto& st : stored) {
      fetch_fn index = [&](const std::string& after, std::size_t n) {
        return log.list_by_status(st, n, after);
      };
      // Only a kind, or "running" (shown "resumable" for a workflow no
      // engine holds), can reject entries of the status asked for.
      std::size_t chunk = kind || st == "running" ? 256 : 0;
      auto s = scan(index, from, a.prefix, want, budget, chunk,
                    [&](const eventlog::stream_info& info) {
                      return kind_ok(info)
                             && wanted(shown_status(info, live));
                    });
      if (!s)
        return std::move(s).error();
      sources.push_back(std::move(*s));
    }
  }
  // Merge; a source that ran out of budget bounds what is certain.
  std::optional<std::string> horizon;
  std::vector<eventlog::stream_info> all;
  for (auto& s : sources) {
    if (s.horizon && (!horizon || *s.horizon < *horizon))
      horizon = s.horizon;
    std::move(s.kept.begin(), s.kept.end(), std::back_inserter(all));
  }
  std::sort(all.begin(), all.end(),
            [](auto& x, auto& y) { return x.id < y.id; });
  if (horizon)
    std::erase_if(all, [&](auto& info) { return info.id > *horizon; });
  list_page_result out;
  if (all.size() > a.limit) {
    all.resize(a.limit);
    out.next = all.back().id;
  } else if (horizon) {
    out.next = *horizon;
  }
  out.items = std::move(all);
  return out;
}

} // namespace perdure::tools
