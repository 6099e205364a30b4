// SPDX-License-Identifier: Apache-2.0
// Listing the stream directory: by status (the status index), all streams
// (optionally of one kind), and a page of ids under a prefix; and the
// stored source offsets under a key prefix.

#include "perdure/eventlog/event_log.hpp"

#include "log_read.hpp"

namespace perdure::eventlog {

using namespace detail;

namespace {

// Unframes a directory entry read by a walk; `res` names the stream.
bool entry_of(std::string_view key, std::string_view val, stream_info& info,
              status& res) {
  if (res = unframe_entry(key, val, info); !res) {
    res = {res.code(), fmt::format("directory entry of stream '{}': {}", key,
                                   res.message())};
    return false;
  }
  return true;
}

} // namespace

result<std::vector<stream_info>>
event_log::list_by_status(std::string_view status_text, std::size_t limit,
                          std::string_view after) const {
  std::vector<stream_info> out;
  auto prefix = status_key(status_text, "");
  auto from = status_key(status_text, after);
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    return walk(txn, impl_->by_status, "status", &from,
                [&](std::string_view key, std::string_view, status& res) {
                  if (out.size() >= limit
                      || key.substr(0, prefix.size()) != prefix)
                    return false;
                  if (!after.empty() && key.substr(prefix.size()) <= after)
                    return true; // the page's last id itself
                  stream_info info;
                  res = read_entry(*impl_, txn, key.substr(prefix.size()), info);
                  out.push_back(std::move(info));
                  return true;
                });
  });
  if (!st)
    return st;
  return out;
}

result<std::vector<stream_info>>
event_log::list(std::optional<stream_kind> kind, std::size_t limit) const {
  std::vector<stream_info> out;
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    return walk(txn, impl_->dir, "dir", nullptr,
                [&](std::string_view key, std::string_view val, status& res) {
                  if (out.size() >= limit)
                    return false;
                  stream_info info;
                  if (!entry_of(key, val, info, res))
                    return false;
                  if (!kind || info.kind == *kind)
                    out.push_back(std::move(info));
                  return true;
                });
  });
  if (!st)
    return st;
  return out;
}

result<std::vector<stream_info>>
event_log::list_prefix(std::string_view prefix, std::string_view after,
                       std::size_t limit) const {
  std::vector<stream_info> out;
  std::string from{after > prefix ? after : prefix};
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    return walk(txn, impl_->dir, "dir", from.empty() ? nullptr : &from,
                [&](std::string_view key, std::string_view val, status& res) {
                  if (out.size() >= limit || !key.starts_with(prefix))
                    return false;
                  if (!after.empty() && key <= after)
                    return true; // the page's last id itself
                  stream_info info;
                  if (!entry_of(key, val, info, res))
                    return false;
                  out.push_back(std::move(info));
                  return true;
                });
  });
  if (!st)
    return st;
  return out;
}

result<std::vector<std::pair<std::string, std::int64_t>>>
event_log::list_offsets(std::string_view prefix, std::size_t limit) const {
  std::vector<std::pair<std::string, std::int64_t>> out;
  std::string from{prefix};
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    return walk(txn, impl_->offsets, "offsets",
                from.empty() ? nullptr : &from,
                [&](std::string_view key, std::string_view val, status& res) {
                  if (out.size() >= limit || !key.starts_with(prefix))
                    return false;
                  std::string_view v;
                  if (!unframe_small(key, val, v) || v.size() != 8) {
                    res = {errc::corruption,
                           fmt::format("offset '{}' fails its checksum", key)};
                    return false;
                  }
                  out.emplace_back(std::string{key},
                                   static_cast<std::int64_t>(
                                     get_be64(v.data())));
                  return true;
                });
  });
  if (!st)
    return st;
  return out;
}

} // namespace perdure::eventlog
