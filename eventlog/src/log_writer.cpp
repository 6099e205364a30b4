// The group-commit writer: one thread drains the queue of write_batches into
// one LMDB write transaction, commits it (fsync in sync mode) and only once
// the batches are durable hands their completions to the notifier thread.

#include "encoding.hpp"
#include "log_impl.hpp"

#include <chrono>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

namespace perdure::eventlog {

using namespace detail;

namespace {

using op_type = write_batch::op::type;

// The directory entry of one stream as this transaction sees it. Entries are
// cached for the whole transaction and written back once, before the commit.
struct entry_state {
  stream_info info;
  bool exists = false;        // a directory entry exists (in db or in txn)
  bool dirty = false;         // must be written back
  std::string indexed_status; // the status the status index holds now
};

class txn_writer {
 public:
  txn_writer(event_log::impl& self, MDB_txn* txn, time_ns now,
             std::string_view writer_id)
    : self_(self), txn_(txn), now_(now), writer_id_(writer_id) {
  }

  // Checks every precondition of `b` without writing, so that a failing batch
  // leaves nothing behind.
  status validate(const write_batch& b) {
    for (auto& op : b.ops()) {
      switch (op.what) {
        case op_type::put_offset:
          if (op.stream.empty() || op.stream.size() > 400)
            return {errc::invalid_argument,
                    fmt::format("offset key of {} bytes (1 to 400 allowed)",
                                op.stream.size())};
          continue;
        case op_type::put_blob:
          continue;
        default:
          break;
      }
      if (auto why = check_stream_id(op.stream); !why.empty())
        return {errc::invalid_argument, why};
      if (op.what == op_type::set_status && op.data.size() > max_status_size)
        return {errc::invalid_argument,
                fmt::format("status '{}' is longer than {} bytes", op.data,
                            max_status_size)};
      if ((op.what == op_type::put_timer || op.what == op_type::remove_timer)
          && op.data.find('\0') != std::string::npos)
        return {errc::invalid_argument, "a timer tag must not contain NUL"};
      if (op.what == op_type::expect_last) {
        entry_state* e = nullptr;
        if (auto st = load(op.stream, e); !st)
          return st;
        auto last = e->exists ? e->info.last_seq : 0;
        if (last != op.number)
          return {errc::conflict,
                  fmt::format("stream '{}' is at seq {}, expected {}",
                              op.stream, last, op.number)};
      }
    }
    return {};
  }

  // Applies `b`; the first LMDB error aborts the whole transaction.
  status apply(const write_batch& b, commit_info& info) {
    for (auto& op : b.ops())
      if (auto st = apply_one(op, info); !st)
        return st;
    return {};
  }

  // Writes back every changed directory entry and status index entry.
  status flush() {
    for (auto& [id, e] : entries_) {
      if (!e.dirty)
        continue;
      if (!e.exists)
        continue; // removed: remove() already deleted its keys
      if (e.indexed_status != e.info.status) {
        if (!e.indexed_status.empty())
          if (auto st = del(self_.by_status, status_key(e.indexed_status, id));
              !st)
            return st;
        if (!e.info.status.empty())
          if (auto st = put(self_.by_status, status_key(e.info.status, id), "");
              !st)
            return st;
        e.indexed_status = e.info.status;
      }
      if (auto st = put(self_.dir, id, frame_entry(id, e.info)); !st)
        return st;
      e.dirty = false;
    }
    return {};
  }

 private:
  status load(const std::string& id, entry_state*& out) {
    auto [it, fresh] = entries_.try_emplace(id);
    out = &it->second;
    if (!fresh)
      return {};
    MDB_val k = as_val(id), v;
    int rc = safe_get(txn_, self_.dir, &k, &v);
    if (rc == MDB_NOTFOUND) {
      out->info.id = id;
      return {};
    }
    if (rc != MDB_SUCCESS)
      return from_mdb(rc, "mdb_get(dir)");
    if (auto st = unframe_entry(id, as_view(v), out->info); !st)
      return {st.code(), fmt::format("directory entry of stream '{}': {}", id,
                                     st.message())};
    out->exists = true;
    out->indexed_status = out->info.status;
    return {};
  }

  status touch(const std::string& id, entry_state*& e) {
    if (auto st = load(id, e); !st)
      return st;
    if (!e->exists) {
      e->exists = true;
      e->info = stream_info{};
      e->info.id = id;
      e->info.created = now_;
    }
    e->info.updated = now_;
    e->dirty = true;
    return {};
  }

  status put(MDB_dbi dbi, std::string_view key, std::string_view val,
             unsigned flags = 0) {
    MDB_val k = as_val(key), v = as_val(val);
    int rc = safe_put(txn_, dbi, &k, &v, flags);
    if (rc == MDB_KEYEXIST)
      return {};
    return from_mdb(rc, "mdb_put");
  }

  status del(MDB_dbi dbi, std::string_view key) {
    MDB_val k = as_val(key);
    int rc = safe_del(txn_, dbi, &k, nullptr);
    return rc == MDB_NOTFOUND ? status{} : from_mdb(rc, "mdb_del");
  }

  // Deletes log records of `id` from `from` up to (excluding) `until`.
  status delete_records(const std::string& id, seq_t from, seq_t until) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn_, self_.log, &cur);
    if (rc != MDB_SUCCESS)
      return from_mdb(rc, "mdb_cursor_open(log)");
    auto start = log_key(id, from);
    auto prefix = std::string_view{start}.substr(0, id.size() + 1);
    MDB_val k = as_val(start), v;
    for (rc = safe_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = safe_cursor_get(cur, &k, &v, MDB_NEXT)) {
      auto key = as_view(k);
      if (key.size() != start.size() || key.substr(0, prefix.size()) != prefix)
        break;
      if (get_be64(key.data() + prefix.size()) >= until)
        break;
      if (rc = safe_cursor_del(cur, 0); rc != MDB_SUCCESS)
        break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? status{}
                                                   : from_mdb(rc, "delete(log)");
  }

  status delete_timers_of(const std::string& id) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn_, self_.timers, &cur);
    if (rc != MDB_SUCCESS)
      return from_mdb(rc, "mdb_cursor_open(timers)");
    MDB_val k, v;
    for (rc = safe_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;) {
      timer_entry t;
      if (parse_timer_key(as_view(k), t) && t.stream == id) {
        if (rc = safe_cursor_del(cur, 0); rc != MDB_SUCCESS)
          break;
        rc = safe_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc == MDB_NOTFOUND || rc == EINVAL)
          rc = safe_cursor_get(cur, &k, &v, MDB_NEXT);
        continue;
      }
      rc = safe_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? status{} : from_mdb(rc, "delete(timers)");
  }

  status apply_one(const write_batch::op& op, commit_info& info) {
    entry_state* e = nullptr;
    switch (op.what) {
      case op_type::expect_last:
        return {};
      case op_type::append: {
        if (auto st = touch(op.stream, e); !st)
          return st;
        auto seq = e->info.last_seq + 1;
        auto key = log_key(op.stream, seq);
        auto val = frame_record(key, static_cast<std::uint16_t>(op.number),
                                now_, writer_id_, op.data);
        if (auto st = put(self_.log, key, val); !st)
          return st;
        e->info.last_seq = seq;
        if (e->info.first_seq == 0)
          e->info.first_seq = seq;
        info.seqs.push_back(seq);
        return {};
      }
      case op_type::create: {
        if (auto st = load(op.stream, e); !st)
          return st;
        if (e->exists)
          return {};
        if (auto st = touch(op.stream, e); !st)
          return st;
        e->info.kind = static_cast<stream_kind>(op.number);
        e->info.metadata = op.data;
        return {};
      }
      case op_type::set_status:
        if (auto st = touch(op.stream, e); !st)
          return st;
        e->info.status = op.data;
        return {};
      case op_type::set_metadata:
        if (auto st = touch(op.stream, e); !st)
          return st;
        e->info.metadata = op.data;
        return {};
      case op_type::set_snapshot:
        if (auto st = touch(op.stream, e); !st)
          return st;
        e->info.snapshot_seq = op.number;
        return {};
      case op_type::drop_before: {
        if (auto st = touch(op.stream, e); !st)
          return st;
        if (e->info.first_seq == 0 || op.number <= e->info.first_seq)
          return {};
        if (auto st = delete_records(op.stream, e->info.first_seq, op.number);
            !st)
          return st;
        e->info.first_seq = op.number > e->info.last_seq ? 0 : op.number;
        return {};
      }
      case op_type::remove: {
        if (auto st = load(op.stream, e); !st)
          return st;
        if (auto st = delete_records(op.stream, 0, ~seq_t{0}); !st)
          return st;
        if (auto st = delete_timers_of(op.stream); !st)
          return st;
        if (!e->indexed_status.empty())
          if (auto st = del(self_.by_status,
                            status_key(e->indexed_status, op.stream));
              !st)
            return st;
        if (auto st = del(self_.dir, op.stream); !st)
          return st;
        *e = entry_state{};
        e->info.id = op.stream;
        return {};
      }
      case op_type::put_timer: {
        auto key = timer_key(static_cast<time_ns>(op.number), op.stream, op.data);
        return put(self_.timers, key, frame_small(key, ""));
      }
      case op_type::remove_timer:
        return del(self_.timers,
                   timer_key(static_cast<time_ns>(op.number), op.stream, op.data));
      case op_type::put_offset: {
        std::string v;
        put_be64(v, op.number);
        return put(self_.offsets, op.stream, frame_small(op.stream, v));
      }
      case op_type::put_blob:
        return put(self_.blobs, op.stream, frame_small(op.stream, op.data),
                   MDB_NOOVERWRITE);
    }
    return {};
  }

  event_log::impl& self_;
  MDB_txn* txn_;
  time_ns now_;
  std::string_view writer_id_;
  std::unordered_map<std::string, entry_state> entries_;
};

using pending_list = std::vector<event_log::impl::pending>;

struct outcome {
  int rc = MDB_SUCCESS; // MDB_MAP_FULL asks the caller to grow and retry
  status failure;       // any other failure of the whole transaction
  // Journal: a foreign commit came in between, or the journal file is full;
  // checkpoint and try again.
  bool need_checkpoint = false;
  // Journal: committed without an entry (larger than a journal file);
  // durable only after a checkpoint.
  bool unjournaled = false;
  std::vector<result<commit_info>> results;
};

// Applies `batch` in one transaction and commits it. With the journal, the
// transaction's entry is written (not synced) before the commit, under
// LMDB's write lock, so the journal holds transactions in commit order.
outcome write_group(event_log::impl& self, pending_list& batch, time_ns now,
                    std::string_view writer_id) {
  outcome out;
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(self.env, nullptr, 0, &txn);
  if (rc != MDB_SUCCESS) {
    out.failure = from_mdb(rc, "mdb_txn_begin(write)");
    return out;
  }
  auto txnid = static_cast<std::uint64_t>(mdb_txn_id(txn));
  if (self.journaled && txnid != self.last_txnid + 1) {
    // Another process committed since our last transaction: the journal's
    // base must include its state before anything of ours builds on it.
    mdb_txn_abort(txn);
    out.need_checkpoint = true;
    return out;
  }
  txn_writer w{self, txn, now, writer_id};
  status st;
  for (auto& p : batch) {
    commit_info info;
    if (auto v = w.validate(p.batch); !v) {
      out.results.emplace_back(std::move(v));
      continue;
    }
    if (st = w.apply(p.batch, info); !st)
      break;
    out.results.emplace_back(std::move(info));
  }
  if (st)
    st = w.flush();
  if (st && self.journaled) {
    self.entry_batches.clear();
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (out.results[i])
        self.entry_batches.push_back(&batch[i].batch);
    self.entry_buf.clear();
    encode_entry(self.entry_buf, self.jr.generation(), txnid, now,
                 self.entry_batches, self.jr.synced_end());
    st = self.jr.append(self.entry_buf);
    if (st.code() == errc::full) {
      if (self.jr.could_fit(self.entry_buf.size())) {
        mdb_txn_abort(txn);
        out.need_checkpoint = true;
        return out;
      }
      out.unjournaled = true;
      st = {};
    }
  }
  if (!st) {
    mdb_txn_abort(txn);
    if (st.code() == errc::full)
      out.rc = MDB_MAP_FULL;
    else
      out.failure = st;
    return out;
  }
  rc = mdb_txn_commit(txn);
  if (rc == MDB_SUCCESS) {
    self.last_txnid = txnid;
    ++self.txns_since_checkpoint;
    return out;
  }
  if (self.journaled && !out.unjournaled) {
    // The entry is in the journal but the transaction is not in LMDB: mark
    // it void (durably, before anyone hears of the failure), or recovery
    // would replay it.
    auto mark = encode_void(self.jr.generation(), txnid, self.jr.synced_end());
    if (auto js = self.jr.append(mark); js)
      static_cast<void>(self.jr.sync());
  }
  if (rc == MDB_MAP_FULL)
    out.rc = rc;
  else
    out.failure = from_mdb(rc, "mdb_txn_commit");
  return out;
}

} // namespace

bool event_log::impl::grow_map() {
  auto cur = map_size.load();
  if (cur >= opts.max_map_size)
    return false;
  auto next = std::min(opts.max_map_size, cur * 2);
  std::unique_lock<std::shared_mutex> excl{resize_mu};
  if (mdb_env_set_mapsize(env, next) != MDB_SUCCESS)
    return false;
  MDB_envinfo info;
  mdb_env_info(env, &info);
  map_size = info.me_mapsize;
  ++map_grows;
  return true;
}

// Commits `batch` (growing the map when needed) and returns the completions
// with their results; `committed` tells whether a transaction reached LMDB.
event_log::impl::done_group event_log::impl::commit_group(
  std::vector<pending>& batch, bool& committed) {
  // One transaction, checkpointing first when the journal asks for it.
  auto attempt = [this](std::vector<pending>& b) {
    for (;;) {
      auto o = write_group(*this, b, now_ns(), opts.writer_id);
      if (!o.need_checkpoint)
        return o;
      if (auto st = checkpoint(false); !st) {
        outcome f;
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
    out.failure = foreign_checkpoint();
  committed = out.failure.is_ok();
  auto committed_at = now_ns();
  done_group group;
  group.done.reserve(batch.size());
  group.results.reserve(batch.size());
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
    }
    group.results.push_back(std::move(r));
  }
  return group;
}

void event_log::impl::notify(done_group group) {
  {
    std::lock_guard<std::mutex> guard{notify_mu};
    notify_queue.push_back(std::move(group));
  }
  notify_cv.notify_one();
}

// The writer's loop. With the pipelined sync policy a committed group is
// held back until its meta page is durable: the next commit's fdatasync
// flushes it, and when no batch is waiting an explicit sync does.
// The writer's loop with the journal: commit (entry written, LMDB not
// synced), hand the group to the syncer, go on with the next group while
// the syncer's fdatasync runs. Checkpoints come every checkpoint_interval
// while there are writes, and once more, clean, at close.
void event_log::impl::run_journal_writer() {
  std::vector<pending> batch;
  for (;;) {
    bool due = false;
    bool finish = false;
    {
      std::unique_lock<std::mutex> guard{mu};
      auto until = last_checkpoint + opts.checkpoint_interval;
      // While a journal sync runs, batches wait for it to end (or for a
      // large group): committing them earlier would not make them durable
      // sooner, only the groups smaller.
      auto ready = [this] {
        return stopping || ckpt == ckpt_phase::synced
               || (!queue.empty()
                   && (!syncing || queue.size() >= eager_group_size));
      };
      if (txns_since_checkpoint > 0 && ckpt == ckpt_phase::idle)
        cv.wait_until(guard, until, ready);
      else
        cv.wait(guard, ready);
      finish = ckpt == ckpt_phase::synced;
      due = txns_since_checkpoint > 0 && ckpt == ckpt_phase::idle
            && std::chrono::steady_clock::now() >= until;
      if (!due && !finish && queue.empty() && stopping)
        break;
      auto n = std::min(queue.size(), opts.max_batches_per_commit);
      batch.clear();
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    if (finish)
      finish_async_checkpoint();
    if (due)
      // A failed checkpoint leaves the previous one in force; the next
      // interval tries again.
      begin_async_checkpoint();
    if (batch.empty())
      continue;
    auto t0 = std::chrono::steady_clock::now();
    bool committed = false;
    auto group = commit_group(batch, committed);
    ++commits;
    group.started = t0;
    {
      std::lock_guard<std::mutex> guard{mu};
      syncing = true;
    }
    {
      std::lock_guard<std::mutex> guard{sync_mu};
      sync_queue.push_back(std::move(group));
    }
    sync_cv.notify_one();
  }
  static_cast<void>(checkpoint(true));
}

// Part one of a periodic checkpoint, on the writer thread: under LMDB's
// write lock, pin the current state and copy its meta pages (from the page
// cache: the images of that state, whatever the disk holds), then let the
// checkpointer sync data.mdb while the writer goes on.
void event_log::impl::begin_async_checkpoint() {
  auto t0 = std::chrono::steady_clock::now();
  MDB_txn* w = nullptr;
  if (mdb_txn_begin(env, nullptr, 0, &w) != MDB_SUCCESS)
    return;
  async_ckpt job;
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
    return;
  }
  txns_since_checkpoint = 0;
  last_checkpoint = std::chrono::steady_clock::now();
  checkpoint_ns += static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(last_checkpoint - t0)
      .count());
  {
    std::lock_guard<std::mutex> guard{mu};
    ckpt_job = std::move(job);
    ckpt = ckpt_phase::queued;
  }
  ckpt_cv.notify_one();
}

void event_log::impl::run_checkpointer() {
  for (;;) {
    {
      std::unique_lock<std::mutex> guard{mu};
      ckpt_cv.wait(guard, [this] {
        return ckpt_stopping || ckpt == ckpt_phase::queued;
      });
      if (ckpt != ckpt_phase::queued)
        return;
    }
    // Everything the pinned state holds was written before it committed,
    // so this makes it durable.
    int rc = mdb_env_sync(env, 1);
    {
      std::lock_guard<std::mutex> guard{mu};
      ckpt_status = from_mdb(rc, "mdb_env_sync(checkpoint)");
      ckpt = ckpt_phase::synced;
    }
    cv.notify_one();
    ckpt_done_cv.notify_all();
  }
}

// Part two, on the writer thread once data.mdb is synced: journal the
// checkpoint; the previous pin is released once that entry is durable.
void event_log::impl::finish_async_checkpoint() {
  async_ckpt job;
  status synced;
  {
    std::lock_guard<std::mutex> guard{mu};
    job = std::move(ckpt_job);
    ckpt_job = {};
    synced = ckpt_status;
    ckpt = ckpt_phase::idle;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto entry = jr.checkpoint_entry(job.state, job.meta);
  if (!synced || !jr.append(entry)) {
    // The previous checkpoint stays in force (a full journal file starts a
    // synchronous checkpoint at the next commit).
    mdb_txn_abort(job.pin);
    return;
  }
  MDB_txn* old = pinned;
  pinned = job.pin;
  ++checkpoints;
  auto now = std::chrono::steady_clock::now();
  auto ns = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(now - job.started)
      .count());
  if (ns > checkpoint_ns_max)
    checkpoint_ns_max = ns;
  checkpoint_ns += static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(now - t0).count());
  done_group g;
  g.started = now;
  g.results.emplace_back(commit_info{});
  g.done.emplace_back([this, old](result<commit_info> r) {
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
  {
    std::lock_guard<std::mutex> guard{mu};
    syncing = true;
  }
  {
    std::lock_guard<std::mutex> guard{sync_mu};
    sync_queue.push_back(std::move(g));
  }
  sync_cv.notify_one();
}

// Before a synchronous checkpoint (which supersedes it): wait for the
// checkpointer and drop what it did.
void event_log::impl::drop_async_checkpoint() {
  std::unique_lock<std::mutex> guard{mu};
  ckpt_done_cv.wait(guard, [this] { return ckpt != ckpt_phase::queued; });
  if (ckpt == ckpt_phase::synced) {
    mdb_txn_abort(ckpt_job.pin);
    ckpt_job = {};
    ckpt = ckpt_phase::idle;
  }
}

void event_log::impl::run_syncer() {
  std::deque<done_group> groups;
  for (;;) {
    {
      std::unique_lock<std::mutex> guard{sync_mu};
      sync_busy = false;
      if (sync_queue.empty()) {
        sync_idle_cv.notify_all();
        // Tell the writer that the batches it holds back can go.
        std::lock_guard<std::mutex> g{mu};
        if (syncing) {
          syncing = false;
          cv.notify_one();
        }
      }
      sync_cv.wait(guard,
                   [this] { return sync_stopping || !sync_queue.empty(); });
      if (sync_queue.empty())
        return;
      groups.clear();
      groups.swap(sync_queue);
      sync_busy = true;
    }
    // Every entry of these groups was written before they were queued, and
    // checkpoints (which switch files) wait for this queue to drain.
    auto st = jr.sync();
    ++syncs;
    auto now = std::chrono::steady_clock::now();
    for (auto& g : groups) {
      if (!st)
        for (auto& r : g.results)
          if (r)
            r = unexpected{st};
      commit_ns += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - g.started)
          .count());
      notify(std::move(g));
    }
  }
}

void event_log::impl::drain_syncer() {
  std::unique_lock<std::mutex> guard{sync_mu};
  sync_idle_cv.wait(guard, [this] { return sync_queue.empty() && !sync_busy; });
}

// Syncs LMDB under its write lock, saves the meta pages of that state as a
// new journal generation, and pins the state with a read transaction.
status event_log::impl::checkpoint(bool clean) {
  drop_async_checkpoint();
  drain_syncer();
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
  auto ns = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(last_checkpoint - t0)
      .count());
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
    st = publish_foreign_checkpoint(opts.dir, state, page_size, meta);
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

void event_log::impl::run_writer() {
  if (journaled) {
    run_journal_writer();
    return;
  }
  const bool pipelined =
    opts.mode == durability::sync && opts.sync == sync_policy::pipelined;
  std::vector<pending> batch;
  std::optional<done_group> held;
  auto t_held = std::chrono::steady_clock::now();
  auto add_commit_time = [this](std::chrono::steady_clock::time_point t0) {
    commit_ns += static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now() - t0)
        .count());
  };
  // Makes the held group durable with one fdatasync and hands it over.
  auto sync_held = [&] {
    if (!held)
      return;
    if (int rc = mdb_env_sync(env, 1); rc != MDB_SUCCESS) {
      auto failure = from_mdb(rc, "mdb_env_sync");
      for (auto& r : held->results)
        if (r)
          r = unexpected{failure};
    }
    ++syncs;
    add_commit_time(t_held);
    notify(std::move(*held));
    held.reset();
  };
  for (;;) {
    {
      std::unique_lock<std::mutex> guard{mu};
      if (held && queue.empty()) {
        guard.unlock();
        sync_held();
        guard.lock();
      }
      cv.wait(guard, [this] { return stopping || !queue.empty(); });
      if (queue.empty())
        return;
      auto n = std::min(queue.size(), opts.max_batches_per_commit);
      batch.clear();
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    auto t0 = std::chrono::steady_clock::now();
    bool committed = false;
    auto group = commit_group(batch, committed);
    ++commits;
    group.started = t0;
    if (held) {
      // This commit's fdatasync flushed the held group's meta page; without
      // a commit, sync explicitly.
      if (committed) {
        add_commit_time(t_held);
        notify(std::move(*held));
        held.reset();
      } else {
        sync_held();
      }
    }
    if (pipelined && committed) {
      held = std::move(group);
      t_held = t0;
    } else {
      add_commit_time(t0);
      notify(std::move(group));
    }
  }
}

void event_log::impl::run_notifier() {
  for (;;) {
    done_group group;
    {
      std::unique_lock<std::mutex> guard{notify_mu};
      notify_cv.wait(guard,
                     [this] { return notify_stopping || !notify_queue.empty(); });
      if (notify_queue.empty())
        return;
      group = std::move(notify_queue.front());
      notify_queue.pop_front();
    }
    for (std::size_t i = 0; i < group.done.size(); ++i)
      group.done[i](std::move(group.results[i]));
  }
}

status event_log::impl::full_error() const {
  return {errc::full,
          fmt::format("storage '{}' reached its maximum map size of {} bytes "
                      "(options.max_map_size); nothing of this batch was "
                      "written",
                      opts.dir.string(), opts.max_map_size)};
}

} // namespace perdure::eventlog
