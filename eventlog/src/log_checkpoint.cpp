// SPDX-License-Identifier: Apache-2.0
// Checkpoints, the LMDB side (meta pages, pins): the periodic one's first
// and last parts (durability_journal.cpp runs them, with data.mdb's sync
// between them on the writer thread, without the commit lock), the
// synchronous one that starts a journal generation (a full journal file, a
// foreign commit in between, close), and a foreign writer's record in
// journal-foreign. See journal.hpp and FORMAT.md "Journal".

#include "log_impl.hpp"

#include <fmt/format.h>

namespace perdure::eventlog {

using namespace detail;

// A periodic checkpoint's first part: under LMDB's write lock, pin the
// current state and copy its meta pages (from the page cache: the images
// of that state, whatever the disk holds); the writer then syncs data.mdb
// without the commit lock while commits go on.
std::optional<checkpoint_job> event_log::impl::pin_checkpoint() {
  auto t0 = std::chrono::steady_clock::now();
  MDB_txn* w = nullptr;
  if (mdb_txn_begin(env, nullptr, 0, &w) != MDB_SUCCESS)
    return std::nullopt;
  checkpoint_job job;
  job.started = t0;
  job.state = static_cast<std::uint64_t>(mdb_txn_id(w)) - 1;
  int fd = -1;
  mdb_env_get_fd(env, &fd);
  bool ok = read_meta_pages(fd, page_size, job.meta).is_ok()
            && meta_txnid(job.meta[job.state & 1]) == job.state
            && mdb_txn_begin(env, nullptr, MDB_RDONLY, &job.pin) == MDB_SUCCESS;
  mdb_txn_abort(w);
  if (!ok) {
    if (job.pin)
      mdb_txn_abort(job.pin);
    return std::nullopt;
  }
  txns_since_checkpoint = 0;
  last_checkpoint = std::chrono::steady_clock::now();
  checkpoint_ns += ns_between(t0, last_checkpoint.load());
  return job;
}

// Its last part, once data.mdb is synced: journal the checkpoint; the
// previous pin is released once that entry is durable.
std::optional<event_log::impl::done_group> event_log::impl::record_checkpoint(
  checkpoint_job job, const status& synced) {
  auto t0 = std::chrono::steady_clock::now();
  auto entry = jr.checkpoint_entry(job.state, job.meta);
  if (!synced || !jr.append(entry)) {
    // The previous checkpoint stays in force (a full journal file starts a
    // synchronous checkpoint at the next commit).
    mdb_txn_abort(job.pin);
    return std::nullopt;
  }
  MDB_txn* old = pinned;
  pinned = job.pin;
  auto now = std::chrono::steady_clock::now();
  if (auto ns = ns_between(job.started, now); ns > checkpoint_ns_max)
    checkpoint_ns_max = ns;
  checkpoint_ns += ns_between(t0, now);
  done_group g;
  g.started = now;
  g.results.emplace_back(commit_info{});
  g.done.emplace_back([this, old](result<commit_info> r) {
    if (r)
      ++checkpoints; // counted once its entry is durable
    if (!old)
      return;
    if (r) {
      mdb_txn_abort(old);
      return;
    }
    // Not known durable: keep the older state pinned until close.
    std::lock_guard<std::mutex> guard{orphan_mu};
    orphan_pins.push_back(old);
  });
  return g;
}

// Syncs LMDB under its write lock, saves the meta pages of that state as a
// new journal generation, and pins the state with a read transaction.
status event_log::impl::checkpoint(bool clean) {
  if (dur)
    dur->quiesce();
  auto t0 = std::chrono::steady_clock::now();
  MDB_txn* w = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, 0, &w); rc != MDB_SUCCESS)
    return from_mdb(rc, "mdb_txn_begin(checkpoint)");
  auto state = static_cast<std::uint64_t>(mdb_txn_id(w)) - 1;
  journal_header h;
  h.checkpoint_txnid = state;
  h.page_size = page_size;
  h.clean = clean;
  h.boot_id = boot_id;
  h.writer_id = opts.writer_id;
  MDB_txn* pin = nullptr;
  auto st = sync_and_pin(state, h.meta, clean ? nullptr : &pin);
  mdb_txn_abort(w);
  if (st)
    st = jr.start_generation(std::move(h));
  // Once the new checkpoint is durable the old snapshot may go.
  if (st = swap_pin(st, pin); !st)
    return st;
  last_txnid = state;
  txns_since_checkpoint = 0;
  last_checkpoint = std::chrono::steady_clock::now();
  ++checkpoints;
  auto ns = ns_between(t0, last_checkpoint.load());
  checkpoint_ns += ns;
  if (ns > checkpoint_ns_max)
    checkpoint_ns_max = ns;
  return {};
}

status event_log::impl::sync_and_pin(std::uint64_t state,
                                     std::string (&meta)[2], MDB_txn** pin) {
  if (int rc = mdb_env_sync(env, 1); rc != MDB_SUCCESS)
    return from_mdb(rc, "mdb_env_sync(checkpoint)");
  int fd = -1;
  mdb_env_get_fd(env, &fd);
  if (auto st = read_meta_pages(fd, page_size, meta); !st)
    return st;
  if (meta_txnid(meta[state & 1]) != state)
    return {errc::unsupported,
            fmt::format("LMDB meta page {} does not name transaction {}; "
                        "this LMDB build's layout is not the one the journal "
                        "knows (use sync_policy::pipelined)",
                        state & 1, state)};
  if (pin)
    if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, pin);
        rc != MDB_SUCCESS)
      return from_mdb(rc, "mdb_txn_begin(pin)");
  return {};
}

// A writer beside the owner: after its (fully synced) commit, records the
// state it left in journal-foreign so that recovery starts from it, and
// pins it while this process lives.
status event_log::impl::foreign_checkpoint() {
  MDB_txn* w = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, 0, &w); rc != MDB_SUCCESS)
    return from_mdb(rc, "mdb_txn_begin(checkpoint)");
  auto state = static_cast<std::uint64_t>(mdb_txn_id(w)) - 1;
  std::string meta[2];
  MDB_txn* pin = nullptr;
  auto st = sync_and_pin(state, meta, &pin);
  mdb_txn_abort(w);
  if (st)
    st = publish_foreign_checkpoint(foreign_fd, opts.dir, state, page_size,
                                    meta);
  return swap_pin(st, pin);
}

status event_log::impl::swap_pin(status st, MDB_txn* pin) {
  if (!st) {
    if (pin)
      mdb_txn_abort(pin);
    return st;
  }
  if (pinned)
    mdb_txn_abort(pinned);
  pinned = pin;
  return {};
}

} // namespace perdure::eventlog
