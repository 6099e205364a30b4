// SPDX-License-Identifier: Apache-2.0
// The group commit around write_group.cpp's transaction: growing the map
// and retrying, checkpoints the journal asks for, committing one by one at
// the maximum map size, the completions' results, and the journal's replay
// after a reboot. The threads that call it are log_loops.cpp's.

#include "write_group.hpp"

#include <unordered_map>

#include <fmt/format.h>

namespace perdure::eventlog {

using namespace detail;

bool event_log::impl::grow_map() {
  auto cur = map_size.load();
  if (cur >= opts.max_map_size)
    return false;
  auto next = std::min(opts.max_map_size, cur * 2);
  std::unique_lock<std::shared_timed_mutex> excl{resize_mu};
  if (int rc = mdb_env_set_mapsize(env, next); rc != MDB_SUCCESS) {
    grow_failure = from_mdb(rc, fmt::format("mdb_env_set_mapsize({})", next));
    return false;
  }
  grow_failure = {};
  MDB_envinfo info;
  mdb_env_info(env, &info);
  map_size = info.me_mapsize;
  ++map_grows;
  return true;
}

// Commits `batch` (growing the map when needed) and returns the completions
// with their results; `committed` tells whether a transaction reached LMDB.
event_log::impl::done_group event_log::impl::commit_group(
  std::vector<pending>& batch, bool& committed, time_ns now,
  std::string_view writer) {
  // One transaction, checkpointing first when the journal asks for it.
  auto attempt = [&](std::vector<pending>& b) {
    for (;;) {
      auto o = write_group(*this, b, now != 0 ? now : now_ns(),
                           writer.empty() ? opts.writer_id : writer);
      if (!o.need_checkpoint)
        return o;
      if (auto st = checkpoint(false); !st) {
        group_outcome f;
        f.failure = st;
        return f;
      }
    }
  };
  auto out = attempt(batch);
  while (out.rc == MDB_MAP_FULL && grow_map())
    out = attempt(batch);
  if (out.rc == MDB_MAP_FULL && batch.size() > 1) {
    // At the maximum map size: commit the batches one by one so that only
    // those that do not fit fail.
    out.results.clear();
    for (auto& p : batch) {
      std::vector<pending> one;
      one.push_back(std::move(p));
      auto o = attempt(one);
      if (o.rc == MDB_MAP_FULL)
        out.results.emplace_back(unexpected{full_error()});
      else if (!o.failure)
        out.results.push_back(std::move(o.results.front()));
      else
        out.results.emplace_back(o.failure);
      out.unjournaled = out.unjournaled || o.unjournaled;
      p = std::move(one.front());
    }
    out.rc = MDB_SUCCESS;
  } else if (out.rc == MDB_MAP_FULL) {
    out.results.assign(1, unexpected{full_error()});
    out.rc = MDB_SUCCESS;
  }
  if (out.failure.is_ok() && out.unjournaled)
    // Too large for the journal: durable once LMDB itself is synced.
    out.failure = checkpoint(false);
  if (out.failure.is_ok() && foreign_sync)
    // The commit is durable in data.mdb (LMDB's full sync): it succeeded.
    // Only a recovery after a reboot before the owner's next checkpoint
    // could roll it back without this record; say so, do not fail it.
    if (auto st = foreign_checkpoint(); !st)
      warn({st.code(),
            fmt::format("the commit succeeded, but recording it for "
                        "recovery failed: {}; if the machine restarts before "
                        "the engine's next checkpoint it may be undone",
                        st.message())});
  committed = out.failure.is_ok();
  auto committed_at = now_ns();
  done_group group;
  group.done.reserve(batch.size());
  group.results.reserve(batch.size());
  auto watcher = observer.load();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    group.done.push_back(std::move(batch[i].done));
    if (!out.failure.is_ok()) {
      group.results.emplace_back(out.failure);
      continue;
    }
    auto& r = out.results[i];
    if (r) {
      r->committed_at = committed_at;
      ++batches;
      records += batch[i].batch.record_count();
      if (opts.on_commit)
        opts.on_commit(batch[i].batch);
      if (watcher)
        (*watcher)(batch[i].batch);
    }
    group.results.push_back(std::move(r));
  }
  return group;
}


// After a reboot: the checkpoint's state is back in place; apply every
// journaled transaction after it, in order.
status event_log::impl::replay_journal(std::vector<journal_entry> entries,
                                       std::uint64_t from_txnid) {
  std::unordered_map<std::uint64_t, std::size_t> newest;
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (!entries[i].checkpoint)
      newest[entries[i].txnid] = i;
  const auto writer = jr.header().writer_id;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    // A later entry of the same id (a retry, or a void mark) replaces it.
    if (e.checkpoint || e.void_txn || e.txnid <= from_txnid
        || newest[e.txnid] != i)
      continue;
    std::vector<pending> batch;
    for (auto& b : e.batches)
      batch.push_back({std::move(b), {}});
    auto out = write_group(*this, batch, e.now, writer);
    while (out.rc == MDB_MAP_FULL && grow_map())
      out = write_group(*this, batch, e.now, writer);
    if (out.rc == MDB_MAP_FULL)
      return full_error();
    if (!out.failure.is_ok())
      return {out.failure.code(),
              fmt::format("journal replay of transaction {}: {}", e.txnid,
                          out.failure.message())};
    for (auto& r : out.results)
      if (!r)
        return {errc::corruption,
                fmt::format("journal replay: transaction {} no longer "
                            "applies ({}); the storage and its journal "
                            "disagree",
                            e.txnid, r.as_status().to_string())};
    ++replayed;
  }
  return {};
}


status event_log::impl::full_error() const {
  if (!grow_failure.is_ok())
    return {errc::full,
            fmt::format("storage '{}' could not grow its map beyond {} bytes "
                        "({}); nothing of this batch was written",
                        opts.dir.string(), map_size.load(),
                        grow_failure.message())};
  return {errc::full,
          fmt::format("storage '{}' reached its maximum map size of {} bytes "
                      "(options.max_map_size); nothing of this batch was "
                      "written",
                      opts.dir.string(), opts.max_map_size)};
}

} // namespace perdure::eventlog
