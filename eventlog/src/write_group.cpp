// SPDX-License-Identifier: Apache-2.0
// Applying a group of write batches in one LMDB write transaction: the
// per-stream directory entries cached for the transaction, validation
// (expect_last, ids, sizes) before anything is written, every operation
// of a batch, the status index, and the commit with its journal entry.

#include "write_group.hpp"

#include "perdure/eventlog/change_feed.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include "encoding.hpp"
#include "os_error.hpp"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

namespace perdure::eventlog::detail {

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
    std::vector<std::string_view> appended; // streams, for notes
    for (auto& op : b.ops()) {
      if (op.what == op_type::append)
        appended.push_back(op.stream);
      if (op.what == op_type::note
          && std::find(appended.begin(), appended.end(), op.data)
               == appended.end())
        return {errc::invalid_argument,
                fmt::format("a note in '{}' of stream '{}' follows no "
                            "append to it in its batch",
                            op.stream, op.data)};
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

  /// Whether a change failed with MDB_MAP_FULL (a larger map may take it),
  /// as opposed to a disk error, which is `full` too.
  bool map_full() const noexcept {
    return map_full_;
  }

  /// A writer beside the owner counts its transaction, for the owner's
  /// foreign_commits (a full map grows and retries, as for any put).
  status count_foreign_commit() {
    auto n = read_foreign_commits(txn_, self_.meta);
    if (!n)
      return n.as_status();
    std::string value;
    put_be64(value, *n + 1);
    return put(self_.meta, foreign_commits_key, value);
  }

 private:
  status failed(int rc, std::string_view what) {
    map_full_ = map_full_ || rc == MDB_MAP_FULL;
    return from_mdb(rc, what);
  }

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
    return failed(rc, "mdb_put");
  }

  status del(MDB_dbi dbi, std::string_view key) {
    MDB_val k = as_val(key);
    int rc = safe_del(txn_, dbi, &k, nullptr);
    return rc == MDB_NOTFOUND ? status{} : failed(rc, "mdb_del");
  }

  // Deletes log records of `id` from `from` up to (excluding) `until`.
  status delete_records(const std::string& id, seq_t from, seq_t until) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn_, self_.log, &cur);
    if (rc != MDB_SUCCESS)
      return from_mdb(rc, "mdb_cursor_open(log)");
    int del = MDB_SUCCESS;
    rc = for_each_log_entry(cur, id, from,
                            [&](seq_t seq, std::string_view, std::string_view) {
                              if (seq >= until)
                                return false;
                              del = safe_cursor_del(cur, 0);
                              return del == MDB_SUCCESS;
                            });
    if (del != MDB_SUCCESS)
      rc = del;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? status{}
                                                   : failed(rc, "delete(log)");
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
    return rc == MDB_NOTFOUND ? status{} : failed(rc, "delete(timers)");
  }

  status append_record(const std::string& stream, std::uint64_t kind,
                       std::string_view payload, seq_t& seq) {
    entry_state* e = nullptr;
    if (auto st = touch(stream, e); !st)
      return st;
    seq = e->info.last_seq + 1;
    auto key = log_key(stream, seq);
    auto val = frame_record(key, static_cast<std::uint16_t>(kind), now_,
                            writer_id_, payload);
    if (auto st = put(self_.log, key, val); !st)
      return st;
    e->info.last_seq = seq;
    if (e->info.first_seq == 0)
      e->info.first_seq = seq;
    return {};
  }

  status apply_one(const write_batch::op& op, commit_info& info) {
    entry_state* e = nullptr;
    switch (op.what) {
      case op_type::expect_last:
        return {};
      case op_type::append: {
        seq_t seq = 0;
        if (auto st = append_record(op.stream, op.number, op.data, seq); !st)
          return st;
        info.seqs.push_back(seq);
        return {};
      }
      case op_type::note: {
        // validate() saw an append to the source earlier in this batch.
        auto& src = entries_.at(op.data);
        auto body = encode_change_note(
          {op.data, src.info.last_seq, static_cast<std::uint16_t>(op.number)});
        seq_t seq = 0;
        return append_record(op.stream, to_u16(record_kind::change_note),
                             body, seq);
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
  bool map_full_ = false;
};

// Applies `batch` in one transaction and commits it. With the journal, the
// transaction's entry is written (not synced) before the commit, under
// LMDB's write lock, so the journal holds transactions in commit order.
} // namespace

group_outcome write_group(event_log::impl& self,
                          std::vector<event_log::impl::pending>& batch,
                          time_ns now, std::string_view writer_id) {
  group_outcome out;
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
  if (st && std::none_of(out.results.begin(), out.results.end(),
                         [](const auto& r) { return r.has_value(); })) {
    // Every batch was refused: nothing to commit or journal (an empty
    // LMDB commit would not use up its txnid, and the next transaction
    // would look like another process's).
    mdb_txn_abort(txn);
    return out;
  }
  if (st)
    st = w.flush();
  if (st && !self.opts.exclusive)
    st = w.count_foreign_commit();
  if (st && self.journaled) {
    self.entry_batches.clear();
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (out.results[i])
        self.entry_batches.push_back(&batch[i].batch);
    self.entry_buf.clear();
    encode_entry(self.entry_buf, self.jr.generation(), txnid, now,
                 self.entry_batches, self.jr.synced_end());
    if (self.jr.fits(self.entry_buf.size())) {
      // A failure here is the disk's (ENOSPC is `full` too), not the map's:
      // growing the map would not help.
      if (auto js = self.jr.append(self.entry_buf); !js) {
        mdb_txn_abort(txn);
        out.failure = js;
        return out;
      }
    } else if (self.jr.could_fit(self.entry_buf.size())) {
      mdb_txn_abort(txn);
      out.need_checkpoint = true;
      return out;
    } else {
      out.unjournaled = true;
    }
  }
  if (!st) {
    mdb_txn_abort(txn);
    if (w.map_full()) // grow the map and retry
      out.rc = MDB_MAP_FULL;
    else
      out.failure = st;
    return out;
  }
  rc = mdb_txn_commit(txn);
  if (rc == MDB_SUCCESS) {
    MDB_envinfo info;
    mdb_env_info(self.env, &info);
    if (info.me_last_txnid == txnid) {
      self.last_txnid = txnid;
      ++self.txns_since_checkpoint;
    } else if (self.journaled && !out.unjournaled) {
      // Nothing changed, so LMDB wrote no new state and the next
      // transaction reuses this txnid: void the entry (no sync needed, a
      // later entry is only durable with it). Unmarked, it would leave a
      // gap: then the next commit starts a new generation instead.
      if (!self.jr.append(encode_void(self.jr.generation(), txnid,
                                      self.jr.synced_end())))
        self.last_txnid = txnid;
    }
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
  if (rc == MDB_MAP_FULL) {
    out.rc = rc;
  } else {
    int fd = -1;
    mdb_env_get_fd(self.env, &fd);
    out.failure = from_mdb(explain_short_write(rc, fd), "mdb_txn_commit");
  }
  return out;
}

} // namespace perdure::eventlog::detail
