// SPDX-License-Identifier: Apache-2.0
// event_log::verify: a full scan of every database, checking checksums,
// envelope schemas and that the directory agrees with the log.

#include "encoding.hpp"
#include "log_impl.hpp"

#include <map>

#include <fmt/format.h>

namespace perdure::eventlog {

using namespace detail;

namespace {

struct scanner {
  const event_log::impl& self;
  MDB_txn* txn;
  std::vector<damage>& found;
  const std::function<void(std::uint64_t, std::uint64_t)>& progress;
  std::uint64_t done = 0;
  std::uint64_t total = 0;

  void tick() {
    if (progress && (++done & 0xFFFF) == 0)
      progress(done, total);
  }

  // Runs `fn(key, value)` over every entry of `dbi`.
  template <class F>
  status each(MDB_dbi dbi, F&& fn) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != MDB_SUCCESS)
      return from_mdb(rc, "mdb_cursor_open(verify)");
    MDB_val k, v;
    for (rc = safe_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = safe_cursor_get(cur, &k, &v, MDB_NEXT)) {
      fn(as_view(k), as_view(v));
      tick();
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? status{} : from_mdb_read(rc, "mdb_cursor_get(verify)");
  }

  std::uint64_t entries(MDB_dbi dbi) {
    MDB_stat st;
    return safe_stat(txn, dbi, &st) == MDB_SUCCESS ? st.ms_entries : 0;
  }
};

struct seen_stream {
  seq_t first = 0;
  seq_t last = 0;
  std::uint64_t count = 0;
};

} // namespace

result<std::vector<damage>> event_log::verify(
  const std::function<void(std::uint64_t, std::uint64_t)>& progress) const {
  std::vector<damage> found;
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    scanner s{*impl_, txn, found, progress};
    s.total = s.entries(impl_->log) + s.entries(impl_->dir)
              + s.entries(impl_->by_status) + s.entries(impl_->timers)
              + s.entries(impl_->offsets) + s.entries(impl_->blobs);
    std::map<std::string, seen_stream, std::less<>> streams;
    auto st = s.each(impl_->log, [&](std::string_view key, std::string_view val) {
      std::string_view stream;
      seq_t seq = 0;
      if (!parse_log_key(key, stream, seq)) {
        found.push_back({"(log)", 0, "malformed log key"});
        return;
      }
      record_view rv;
      if (auto r = unframe_record(key, val, rv); !r) {
        found.push_back({std::string{stream}, seq, r.message()});
      }
      auto it = streams.find(stream);
      if (it == streams.end())
        it = streams.emplace(std::string{stream}, seen_stream{seq, seq, 0}).first;
      auto& ss = it->second;
      if (ss.count > 0 && seq != ss.last + 1)
        found.push_back({std::string{stream}, seq,
                         fmt::format("gap: seq {} follows seq {}", seq, ss.last)});
      ss.last = seq;
      ++ss.count;
    });
    if (!st)
      return st;
    st = s.each(impl_->dir, [&](std::string_view key, std::string_view val) {
      stream_info info;
      if (auto r = unframe_entry(key, val, info); !r) {
        found.push_back({std::string{key}, 0,
                         "directory entry: " + r.message()});
        streams.erase(std::string{key});
        return;
      }
      auto it = streams.find(key);
      seen_stream ss = it == streams.end() ? seen_stream{} : it->second;
      if (it != streams.end())
        streams.erase(it);
      if (ss.count > 0 && (ss.last != info.last_seq || ss.first != info.first_seq))
        found.push_back(
          {info.id, ss.last,
           fmt::format("directory says seq {}..{}, the log holds {}..{}",
                       info.first_seq, info.last_seq, ss.first, ss.last)});
      if (ss.count == 0 && info.first_seq != 0)
        found.push_back({info.id, info.first_seq,
                         fmt::format("directory says seq {}..{}, the log holds "
                                     "no record",
                                     info.first_seq, info.last_seq)});
      if (!info.status.empty()) {
        auto sk = status_key(info.status, info.id);
        MDB_val k = as_val(sk), v;
        if (safe_get(txn, impl_->by_status, &k, &v) != MDB_SUCCESS)
          found.push_back({info.id, 0,
                           fmt::format("status '{}' missing from the status "
                                       "index",
                                       info.status)});
      }
    });
    if (!st)
      return st;
    for (auto& [id, ss] : streams)
      found.push_back({id, ss.first, "records without a directory entry"});
    st = s.each(impl_->timers, [&](std::string_view key, std::string_view val) {
      timer_entry t;
      std::string_view ignored;
      if (!parse_timer_key(key, t) || !unframe_small(key, val, ignored))
        found.push_back({"(timers)", 0, "timer entry fails its checksum"});
    });
    if (!st)
      return st;
    st = s.each(impl_->offsets, [&](std::string_view key, std::string_view val) {
      std::string_view v;
      if (!unframe_small(key, val, v) || v.size() != 8)
        found.push_back({"(offsets)", 0,
                         fmt::format("offset '{}' fails its checksum", key)});
    });
    if (!st)
      return st;
    st = s.each(impl_->blobs, [&](std::string_view key, std::string_view val) {
      std::string_view v;
      if (!unframe_small(key, val, v) || sha256_hex(v) != key)
        found.push_back({"(blobs)", 0,
                         fmt::format("blob '{}' fails its checksum", key)});
    });
    if (progress)
      progress(s.total, s.total);
    return st;
  });
  if (!st)
    return st;
  return found;
}

} // namespace perdure::eventlog
