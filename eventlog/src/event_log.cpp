// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/event_log.hpp"

#include "encoding.hpp"
#include "change_feed.hpp"
#include "journal_recovery.hpp"
#include "log_impl.hpp"
#include "log_read.hpp"
#include "os_error.hpp"
#include "storage_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include <algorithm>

namespace perdure::eventlog {

using namespace detail;

status from_mdb(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS)
    return {};
  // LMDB's own codes are negative; positive ones are errno values of the
  // file operations (ENOSPC from a commit on a full disk is `full`).
  auto code = rc == MDB_MAP_FULL ? errc::full
              : rc == MDB_NOTFOUND ? errc::not_found
              : rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND
                ? errc::corruption
              : rc == MDB_VERSION_MISMATCH || rc == MDB_INVALID
                ? errc::unsupported
              : rc > 0 ? detail::errno_code(rc)
                       : errc::io;
  return {code, fmt::format("{}: {}", what, mdb_strerror(rc))};
}

status from_mdb_read(int rc, std::string_view what) {
  // LMDB marks a read transaction failed when it met a page number past
  // the data (e.g. while opening a cursor); later calls say MDB_BAD_TXN.
  if (rc == MDB_BAD_TXN)
    return {errc::corruption,
            fmt::format("{}: a damaged page number (the storage is corrupt; "
                        "run `perdure verify`)",
                        what)};
  return from_mdb(rc, what);
}

status begin_read(const event_log::impl& self, MDB_txn*& txn,
                  std::shared_lock<std::shared_timed_mutex>& lock) {
  for (;;) {
    lock.lock();
    if (!self.env) // release()d
      return {errc::closed, "the event log was released"};
    int rc = mdb_txn_begin(self.env, nullptr, MDB_RDONLY, &txn);
    if (rc != MDB_MAP_RESIZED)
      return from_mdb(rc, "mdb_txn_begin(read)");
    // Another process grew the map: adopt its size, which LMDB allows only
    // while no transaction of ours is open.
    lock.unlock();
    std::unique_lock<std::shared_timed_mutex> excl{self.resize_mu};
    mdb_env_set_mapsize(self.env, 0);
  }
}

event_log::impl::~impl() {
  dur.reset(); // its threads use env
  release_files();
}

void event_log::impl::release_files() {
  if (pinned)
    mdb_txn_abort(pinned);
  pinned = nullptr;
  for (auto* pin : orphan_pins)
    mdb_txn_abort(pin);
  orphan_pins.clear();
  if (env)
    mdb_env_close(env);
  env = nullptr;
  for (int* fd : {&lock_fd, &dir_fd, &foreign_fd}) {
    if (*fd >= 0)
      ::close(*fd);
    *fd = -1;
  }
}

void event_log::impl::warn(const status& st) const {
  emit(opts.log, log_level::warning, st.message());
}

const options& event_log::opts() const noexcept {
  return impl_->opts;
}

log_stats event_log::stats() const {
  log_stats s;
  s.commits = impl_->commits.load();
  s.caller_commits = impl_->caller_commits.load();
  s.syncs = impl_->syncs.load();
  s.checkpoints = impl_->checkpoints.load();
  s.checkpoint_ns_total = impl_->checkpoint_ns.load();
  s.checkpoint_ns_max = impl_->checkpoint_ns_max.load();
  s.writebacks = impl_->writebacks.load();
  s.batches = impl_->batches.load();
  s.records = impl_->records.load();
  s.map_grows = impl_->map_grows.load();
  s.commit_ns_total = impl_->commit_ns.load();
  s.sync_ns_total = impl_->sync_ns.load();
  s.map_size = impl_->map_size.load();
  return s;
}

result<storage_stats> event_log::storage() const {
  storage_stats out;
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    MDB_envinfo info;
    MDB_stat env_stat;
    mdb_env_info(impl_->env, &info);
    mdb_env_stat(impl_->env, &env_stat);
    out.page_size = env_stat.ms_psize;
    out.map_size = info.me_mapsize;
    out.used_bytes = (info.me_last_pgno + 1) * env_stat.ms_psize;
    std::pair<const char*, MDB_dbi> all[] = {
      {"log", impl_->log},         {"dir", impl_->dir},
      {"status", impl_->by_status}, {"timers", impl_->timers},
      {"offsets", impl_->offsets},  {"blobs", impl_->blobs},
      {"meta", impl_->meta}};
    for (auto& [name, dbi] : all) {
      MDB_stat ds;
      if (int rc = safe_stat(txn, dbi, &ds); rc != MDB_SUCCESS)
        return from_mdb(rc, fmt::format("mdb_stat({})", name));
      out.dbs.push_back({name, ds.ms_entries,
                         ds.ms_branch_pages + ds.ms_leaf_pages
                           + ds.ms_overflow_pages,
                         ds.ms_depth});
    }
    return {};
  });
  if (!st)
    return st;
  return out;
}

// -- writing ------------------------------------------------------------------

void event_log::submit(write_batch batch, completion done, then after) {
  if (!impl_->opts.read_only) {
    if (!impl_->feeds.empty())
      detail::add_notes(impl_->feeds, batch);
    pending p{std::move(batch), std::move(done)};
    switch (impl_->queue.push(p, impl_->may_lead())) {
    case detail::commit_queue::pushed::lead:
      impl_->lead(after == then::waits);
      return;
    case detail::commit_queue::pushed::queued:
      return;
    case detail::commit_queue::pushed::refused:
      break;
    }
    done = std::move(p.done);
  }
  done(unexpected{errc::closed, impl_->opts.read_only
                                  ? "the event log is open read-only"
                                  : "the event log is closed"});
}

bool event_log::observe_commits(
  std::function<void(const write_batch&)> fn) {
  using observer = impl::commit_observer;
  if (!fn) {
    impl_->observer.store(nullptr);
    // A commit that loaded the old one may still be calling it: wait for
    // the committer (the lock orders commits), unless that is this thread.
    if (impl_->committer.load() != std::this_thread::get_id())
      std::lock_guard<std::mutex> wait_out{impl_->commit_mu};
    return true;
  }
  std::shared_ptr<const observer> none;
  return impl_->observer.compare_exchange_strong(
    none, std::make_shared<const observer>(std::move(fn)));
}

namespace {

// event_log::submit with a future for its result.
std::future<result<commit_info>> submit_for_future(event_log& log,
                                                   write_batch batch,
                                                   event_log::then after) {
  auto prom = std::make_shared<std::promise<result<commit_info>>>();
  auto fut = prom->get_future();
  log.submit(
    std::move(batch),
    [prom](result<commit_info> r) { prom->set_value(std::move(r)); }, after);
  return fut;
}

} // namespace

std::future<result<commit_info>> event_log::submit(write_batch batch) {
  return submit_for_future(*this, std::move(batch), then::goes_on);
}

result<commit_info> event_log::commit(write_batch batch) {
  return submit_for_future(*this, std::move(batch), then::waits).get();
}

result<seq_t> event_log::append(std::string_view stream, std::uint16_t kind,
                                std::string payload,
                                std::optional<seq_t> expected_last) {
  write_batch b;
  if (expected_last)
    b.expect_last(stream, *expected_last);
  b.append(stream, kind, std::move(payload));
  auto r = commit(std::move(b));
  if (!r)
    return std::move(r).error();
  return r->seqs.front();
}

// -- reading ------------------------------------------------------------------

result<std::uint64_t> read_foreign_commits(MDB_txn* txn, MDB_dbi meta) {
  MDB_val k = as_val(foreign_commits_key), v;
  int rc = safe_get(txn, meta, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::uint64_t{0};
  if (rc != MDB_SUCCESS)
    return from_mdb_read(rc, "mdb_get(meta foreign_commits)");
  if (v.mv_size != 8)
    return unexpected{errc::corruption,
                      fmt::format("meta 'foreign_commits' holds {} bytes, "
                                  "not 8",
                                  v.mv_size)};
  return get_be64(static_cast<const char*>(v.mv_data));
}


namespace detail {

status read_entry(const event_log::impl& self, MDB_txn* txn,
                  std::string_view stream, stream_info& out) {
  MDB_val k = as_val(stream), v;
  int rc = safe_get(txn, self.dir, &k, &v);
  if (rc == MDB_NOTFOUND)
    return {errc::not_found, fmt::format("stream '{}' does not exist", stream)};
  if (rc != MDB_SUCCESS)
    return from_mdb_read(rc, "mdb_get(dir)");
  if (auto st = unframe_entry(stream, as_view(v), out); !st)
    return {st.code(), fmt::format("directory entry of stream '{}': {}",
                                   stream, st.message())};
  return {};
}

} // namespace detail

namespace {

// Calls `fn` for the records of `stream` from `from` on, in seq order,
// until it returns false. A stream's records are contiguous from the
// directory's first_seq to its last_seq: a missing or misplaced one (a
// damaged key) is `corruption`, never a silent gap a fold would skip.
status scan_records(const event_log::impl& self, MDB_txn* txn,
                    std::string_view stream, seq_t from,
                    const std::function<bool(const record_view&)>& fn) {
  stream_info info;
  if (auto s = read_entry(self, txn, stream, info); !s)
    return s;
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, self.log, &cur);
  if (rc != MDB_SUCCESS)
    return from_mdb(rc, "mdb_cursor_open(log)");
  status st;
  seq_t expect = std::max(from, info.first_seq);
  bool stopped = false;
  rc = for_each_log_entry(
    cur, stream, from,
    [&](seq_t seq, std::string_view key, std::string_view value) {
      if (seq != expect) {
        st = {errc::corruption,
              fmt::format("stream '{}': seq {} where seq {} was expected (a "
                          "record is missing or misplaced)",
                          stream, seq, expect)};
        return false;
      }
      ++expect;
      record_view rv;
      rv.seq = seq;
      if (st = unframe_record(key, value, rv); !st) {
        st = {st.code(), fmt::format("stream '{}' seq {}: {}", stream, seq,
                                     st.message())};
        return false;
      }
      stopped = !fn(rv);
      return !stopped;
    });
  mdb_cursor_close(cur);
  if (!st)
    return st;
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
    return from_mdb_read(rc, "mdb_cursor_get(log)");
  if (!stopped && info.first_seq != 0 && expect <= info.last_seq)
    return {errc::corruption,
            fmt::format("stream '{}': records end before seq {}, the last "
                        "the directory names",
                        stream, info.last_seq)};
  return {};
}

record to_record(const record_view& rv) {
  return record{rv.seq, rv.kind, rv.time, std::string{rv.writer},
                std::string{rv.payload}};
}

} // namespace

result<std::vector<record>> event_log::read(std::string_view stream,
                                            seq_t from, std::size_t max) const {
  std::vector<record> out;
  auto st = impl_->with_read([&](MDB_txn* txn) {
    return scan_records(*impl_, txn, stream, from, [&](const record_view& rv) {
      out.push_back(to_record(rv));
      return out.size() < max;
    });
  });
  if (!st)
    return st;
  return out;
}

status event_log::scan(std::string_view stream, seq_t from,
                       const std::function<bool(const record_view&)>& fn) const {
  return impl_->with_read([&](MDB_txn* txn) {
    return scan_records(*impl_, txn, stream, from, fn);
  });
}

result<record> event_log::read_last(std::string_view stream) const {
  record out;
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    stream_info info;
    if (auto s = read_entry(*impl_, txn, stream, info); !s)
      return s;
    if (info.last_seq == 0 || info.first_seq == 0)
      return {errc::not_found, fmt::format("stream '{}' has no records", stream)};
    auto key = log_key(stream, info.last_seq);
    MDB_val k = as_val(key), v;
    int rc = safe_get(txn, impl_->log, &k, &v);
    if (rc == MDB_NOTFOUND)
      return {errc::corruption,
              fmt::format("stream '{}' seq {}: named by the directory but "
                          "missing from the log",
                          stream, info.last_seq)};
    if (rc != MDB_SUCCESS)
      return from_mdb_read(rc, "mdb_get(log)");
    record_view rv;
    rv.seq = info.last_seq;
    if (auto s = unframe_record(key, as_view(v), rv); !s)
      return {s.code(), fmt::format("stream '{}' seq {}: {}", stream, rv.seq,
                                    s.message())};
    out = to_record(rv);
    return {};
  });
  if (!st)
    return st;
  return out;
}

result<stream_info> event_log::info(std::string_view stream) const {
  stream_info out;
  auto st = impl_->with_read(
    [&](MDB_txn* txn) { return read_entry(*impl_, txn, stream, out); });
  if (!st)
    return st;
  return out;
}

result<std::uint64_t> event_log::foreign_commits() const {
  std::uint64_t out = 0;
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    auto n = read_foreign_commits(txn, impl_->meta);
    if (!n)
      return n.as_status();
    out = *n - std::min(*n, impl_->foreign_at_open);
    return {};
  });
  if (!st)
    return st;
  return out;
}

result<std::vector<timer_entry>> event_log::timers_due(time_ns until,
                                                       std::size_t max) const {
  std::vector<timer_entry> out;
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    return walk(txn, impl_->timers, "timers", nullptr,
                [&](std::string_view key, std::string_view val, status& res) {
                  if (out.size() >= max)
                    return false;
                  timer_entry t;
                  std::string_view ignored;
                  if (!parse_timer_key(key, t)
                      || !unframe_small(key, val, ignored)) {
                    res = {errc::corruption, "a timer entry fails its checksum"};
                    return false;
                  }
                  if (t.due > until)
                    return false;
                  out.push_back(std::move(t));
                  return true;
                });
  });
  if (!st)
    return st;
  return out;
}

result<std::optional<timer_entry>> event_log::next_timer() const {
  auto r = timers_due(std::numeric_limits<time_ns>::max(), 1);
  if (!r)
    return std::move(r).error();
  if (r->empty())
    return std::optional<timer_entry>{};
  return std::optional<timer_entry>{std::move(r->front())};
}

result<std::optional<std::int64_t>>
event_log::offset(std::string_view key) const {
  std::optional<std::int64_t> out;
  auto st = impl_->with_read([&](MDB_txn* txn) -> status {
    MDB_val k = as_val(key), v;
    int rc = safe_get(txn, impl_->offsets, &k, &v);
    if (rc == MDB_NOTFOUND)
      return {};
    if (rc != MDB_SUCCESS)
      return from_mdb_read(rc, "mdb_get(offsets)");
    std::string_view val;
    if (!unframe_small(key, as_view(v), val) || val.size() != 8)
      return {errc::corruption,
              fmt::format("offset '{}' fails its checksum", key)};
    out = static_cast<std::int64_t>(get_be64(val.data()));
    return {};
  });
  if (!st)
    return st;
  return out;
}

status event_log::with_blob(std::string_view key,
                            const std::function<void(std::string_view)>& fn) const {
  return impl_->with_read([&](MDB_txn* txn) -> status {
    MDB_val k = as_val(key), v;
    int rc = safe_get(txn, impl_->blobs, &k, &v);
    if (rc == MDB_NOTFOUND)
      return {errc::not_found, fmt::format("blob '{}' does not exist", key)};
    if (rc != MDB_SUCCESS)
      return from_mdb_read(rc, "mdb_get(blobs)");
    std::string_view val;
    if (!unframe_small(key, as_view(v), val))
      return {errc::corruption, fmt::format("blob '{}' fails its checksum", key)};
    fn(val);
    return {};
  });
}

result<std::string> event_log::blob(std::string_view key) const {
  std::string out;
  auto st = with_blob(key, [&](std::string_view b) { out.assign(b); });
  if (!st)
    return st;
  return out;
}

} // namespace perdure::eventlog
