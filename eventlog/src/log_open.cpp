// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/thread_name.hpp"

// Opening a storage (checks, recovery, LMDB's environment, the threads) and
// closing it. The rest of event_log lives in event_log.cpp.

#include "change_feed.hpp"
#include "journal_recovery.hpp"
#include "log_impl.hpp"
#include "os_error.hpp"
#include "storage_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace perdure::eventlog {

using namespace detail;

// -- open ---------------------------------------------------------------------

namespace {

status open_dbs(event_log::impl& self) {
  unsigned flags = self.opts.read_only ? 0 : MDB_CREATE;
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(self.env, nullptr,
                         self.opts.read_only ? MDB_RDONLY : 0, &txn);
  if (rc != MDB_SUCCESS)
    return from_mdb(rc, "mdb_txn_begin(open)");
  struct named {
    const char* name;
    MDB_dbi* dbi;
  };
  named all[] = {{"log", &self.log},         {"dir", &self.dir},
                 {"status", &self.by_status}, {"timers", &self.timers},
                 {"offsets", &self.offsets},  {"blobs", &self.blobs},
                 {"meta", &self.meta}};
  for (auto& n : all) {
    rc = safe_dbi_open(txn, n.name, flags, n.dbi);
    if (rc != MDB_SUCCESS) {
      mdb_txn_abort(txn);
      if (rc == MDB_NOTFOUND)
        return {errc::not_found,
                fmt::format("'{}' holds no perdure storage (database '{}' is "
                            "missing)",
                            self.opts.dir.string(), n.name)};
      return from_mdb(rc, fmt::format("mdb_dbi_open({})", n.name));
    }
  }
  // The format version: written by the first writer, checked by everyone.
  std::string key = "format";
  MDB_val k = as_val(key), v;
  rc = safe_get(txn, self.meta, &k, &v);
  if (rc == MDB_NOTFOUND && !self.opts.read_only) {
    char ver = static_cast<char>(storage_format_version);
    MDB_val nv{1, &ver};
    rc = safe_put(txn, self.meta, &k, &nv, 0);
  } else if (rc == MDB_SUCCESS) {
    auto ver = v.mv_size == 1 ? static_cast<std::uint8_t>(
                 *static_cast<const char*>(v.mv_data))
                              : 0;
    if (ver != storage_format_version) {
      mdb_txn_abort(txn);
      return {errc::unsupported,
              fmt::format("storage '{}' has format version {}; this build "
                          "reads format version {} only{}",
                          self.opts.dir.string(), static_cast<unsigned>(ver),
                          unsigned{storage_format_version},
                          ver > storage_format_version
                            ? " (written by a newer perdure: upgrade "
                              "perdure to read it)"
                            : "")};
    }
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return from_mdb(rc, "mdb_put(meta)");
  }
  // event_log::foreign_commits counts from here.
  auto counted = read_foreign_commits(txn, self.meta);
  if (!counted) {
    mdb_txn_abort(txn);
    return counted.as_status();
  }
  self.foreign_at_open = *counted;
  rc = mdb_txn_commit(txn);
  return from_mdb(rc, "mdb_txn_commit(open)");
}

status take_lock(event_log::impl& self) {
  auto path = self.opts.dir / "perdure.lock";
  self.lock_fd = detail::open_storage_file(self.dir_fd, "perdure.lock",
                                          self.opts.file_mode);
  if (self.lock_fd < 0)
    return os_error("open", path);
  if (::flock(self.lock_fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    auto n = ::pread(self.lock_fd, buf, sizeof(buf) - 1, 0);
    std::string owner = n > 0 ? std::string{buf, static_cast<std::size_t>(n)}
                              : std::string{"?"};
    while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' '))
      owner.pop_back();
    return {errc::busy,
            fmt::format("storage '{}' is already open for writing (by process "
                        "{}); one engine per storage directory",
                        self.opts.dir.string(), owner)};
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(self.lock_fd, 0) == 0)
    [[maybe_unused]] auto n = ::pwrite(self.lock_fd, pid.data(), pid.size(), 0);
  return {};
}

// LMDB reads pages through its memory map and does not check the file's
// size: a data file cut short (a copy interrupted, a disk full) would raise
// SIGBUS on the first page past its end. Refuse it before any read.
status check_file_size(const event_log::impl& self, const MDB_envinfo& info) {
  MDB_stat st;
  if (int rc = mdb_env_stat(self.env, &st); rc != MDB_SUCCESS)
    return from_mdb(rc, "mdb_env_stat");
  std::error_code ec;
  auto path = self.opts.dir / "data.mdb";
  auto size = std::filesystem::file_size(path, ec);
  if (ec)
    return {errc::io, fmt::format("file_size({}): {}", path.string(),
                                  ec.message())};
  auto needed = (static_cast<std::uintmax_t>(info.me_last_pgno) + 1) * st.ms_psize;
  if (size < needed)
    return {errc::corruption,
            fmt::format("{} is truncated: {} bytes, but its pages in use end "
                        "at byte {}; restore it from a copy",
                        path.string(), size, needed)};
  return {};
}

// Whether the journal's newest generation was left open (not closed clean):
// then the owner that wrote it crashed, and its state must be settled by an
// owner before anyone else writes or reads.
bool journal_left_open(const std::filesystem::path& dir,
                       journal_header* out = nullptr) {
  std::error_code ec;
  if (!std::filesystem::exists(dir / "journal-0", ec))
    return false;
  journal jr;
  if (!jr.open(dir, SIZE_MAX, /*create=*/false) || !jr.has_header())
    return false;
  if (out)
    *out = jr.header();
  return !jr.header().clean;
}

// Whether a journal left open belongs to another boot, or to an unknown one:
// the OS may then have lost writes that LMDB made without syncing.
bool needs_recovery(const journal_header& h, const std::string& boot) {
  return !h.clean && (h.boot_id.empty() || boot.empty() || h.boot_id != boot);
}

// Lets an owner settle a journal left open (recovery after a reboot, or a
// checkpoint after a crash): opens the storage as the journaling owner and
// closes it clean. `busy` when an owner is running (it settled it at open).
status settle_journal(const options& opts) {
  options o;
  o.dir = opts.dir;
  o.initial_map_size = opts.initial_map_size;
  o.max_map_size = opts.max_map_size;
  o.journal_size = opts.journal_size;
  o.writer_id = opts.writer_id;
  auto r = event_log::open(std::move(o));
  if (!r)
    return r.as_status();
  return (*r)->close();
}

// Opens LMDB and, for the journaling owner, replays (when `recover`) and
// checkpoints.
status open_env(event_log::impl& self, bool journaling, bool recover,
                planned& plan) {
  int rc = mdb_env_create(&self.env);
  if (rc != MDB_SUCCESS)
    return from_mdb(rc, "mdb_env_create");
  mdb_env_set_maxdbs(self.env, 8);
  mdb_env_set_maxreaders(self.env, 1024);
  if (!self.opts.read_only)
    mdb_env_set_mapsize(self.env, self.opts.initial_map_size);
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  if (self.opts.read_only)
    flags |= MDB_RDONLY;
  else if (self.opts.mode == durability::process || journaling)
    flags |= MDB_NOSYNC;
  else if (self.opts.sync == sync_policy::pipelined && self.opts.exclusive)
    flags |= MDB_NOMETASYNC;
  rc = mdb_env_open(self.env, self.opts.dir.c_str(), flags,
                    static_cast<mdb_mode_t>(self.opts.file_mode));
  if (rc != MDB_SUCCESS)
    return from_mdb(rc, fmt::format("mdb_env_open({})", self.opts.dir.string()));
  MDB_envinfo info;
  mdb_env_info(self.env, &info);
  self.map_size = info.me_mapsize;
  if (auto st = check_file_size(self, info); !st)
    return st;
  if (auto st = open_dbs(self); !st)
    return st;
  if (journaling)
    return start_journal(self, recover, plan.base.checkpoint_txnid,
                         std::move(plan.entries));
  return {};
}

// Closes LMDB after a failed recovery, so that data.mdb can be put back.
void close_env(event_log::impl& self) {
  if (self.pinned)
    mdb_txn_abort(self.pinned);
  self.pinned = nullptr;
  if (self.env)
    mdb_env_close(self.env);
  self.env = nullptr;
}

// Phase 1: options a storage cannot be opened with; nothing is touched.
status validate(const options& opts) {
  if (opts.dir.empty())
    return {errc::invalid_argument, "options.dir is empty"};
  if (opts.initial_map_size < (std::size_t{1} << 20))
    return {errc::invalid_argument,
            "options.initial_map_size must be at least 1 MiB"};
  if (opts.max_map_size < opts.initial_map_size)
    return {errc::invalid_argument,
            "options.max_map_size is below initial_map_size"};
  if (opts.writer_id.size() > 128)
    return {errc::invalid_argument,
            "options.writer_id is longer than 128 bytes"};
  if (opts.change_feeds)
    if (auto st = check_change_feeds(*opts.change_feeds); !st)
      return st;
  if (opts.max_batches_per_commit == 0)
    return {errc::invalid_argument,
            "options.max_batches_per_commit must be positive"};
  if (opts.journal_size < (std::size_t{1} << 20))
    return {errc::invalid_argument,
            "options.journal_size must be at least 1 MiB"};
  if (opts.checkpoint_interval.count() <= 0)
    return {errc::invalid_argument,
            "options.checkpoint_interval must be positive"};
  if (opts.writeback_interval.count() < 0)
    return {errc::invalid_argument,
            "options.writeback_interval must not be negative"};
  if (opts.replicator
      && (opts.read_only || !opts.exclusive
          || (opts.mode == durability::sync
              && opts.sync != sync_policy::journal)))
    return {errc::invalid_argument,
            "options.replicator needs an exclusive writer with "
            "durability::process or sync_policy::journal"};
  return {};
}

bool journaling_owner(const options& opts) {
  return !opts.read_only && opts.exclusive && opts.mode == durability::sync
         && opts.sync == sync_policy::journal;
}

// The directory a writer checked, held until the log owns it.
struct dir_holder {
  int fd = -1;
  ~dir_holder() {
    if (fd >= 0)
      ::close(fd);
  }
};

// Phase 2: the directory is safe to use, a journal a crashed owner left
// open is settled (by becoming its owner for a moment), and a writer holds
// the storage's lock.
result<std::unique_ptr<event_log::impl>> claim(options opts) {
  std::error_code ec;
  dir_holder dir;
  if (opts.read_only) {
    if (!std::filesystem::exists(opts.dir / "data.mdb", ec))
      return unexpected{errc::not_found,
                        fmt::format("no perdure storage in '{}'",
                                    opts.dir.string())};
  } else if (auto d = detail::prepare_storage_dir(opts); !d) {
    return d.as_status(); // nothing written: another user's or unsafe
  } else {
    dir.fd = *d;
  }
  const auto boot = current_boot_id();
  journal_header left;
  if (!journaling_owner(opts) && journal_left_open(opts.dir, &left)
      && (!opts.read_only || needs_recovery(left, boot))) {
    // Only a journaling owner may settle it; become one for a moment. A
    // reader needs that only after a reboot: otherwise the OS holds every
    // write the dead owner made.
    if (auto st = settle_journal(opts); !st) {
      journal_header h;
      if (st.code() != errc::busy
          || (journal_left_open(opts.dir, &h)
              && needs_recovery(h, boot)))
        return unexpected{
          st.code(),
          fmt::format("storage '{}' was not closed before a reboot and its "
                      "journal must be replayed by a writer first: {}",
                      opts.dir.string(), st.message())};
    }
  }
  if (opts.map_guard)
    install_map_guard();
  auto self = std::make_unique<event_log::impl>();
  self->opts = std::move(opts);
  self->dir_fd = std::exchange(dir.fd, -1);
  self->boot_id = boot;
  if (!self->opts.read_only && self->opts.exclusive)
    if (auto st = take_lock(*self); !st)
      return st;
  return self;
}

// Phase 3: what recovery must do, proven before anything is written
// (FORMAT.md, "Recovery"); the journaling owner opens its journal files, a
// writer beside an owner its foreign-commit record.
result<planned> plan_recovery(event_log::impl& self) {
  planned plan;
  if (journaling_owner(self.opts)) {
    if (auto st = restore_undo(self.opts.dir); !st)
      return st;
    auto p = make_plan(self.opts.dir, self.boot_id);
    if (!p)
      return p.as_status();
    plan = std::move(*p);
    if (plan.plan.what == recovery_plan::action::refuse)
      return plan.plan.problem;
    if (auto st = self.jr.open(self.opts.dir, self.opts.journal_size,
                               /*create=*/true, self.dir_fd);
        !st)
      return st;
    if (plan.plan.journal_version >= 2)
      self.jr.resume_at(plan.plan.journal_end);
  } else if (!self.opts.read_only) {
    if (auto st = check_data_file(self.opts.dir); !st)
      return st;
    if (self.opts.mode == durability::sync && !self.opts.exclusive) {
      // A writer beside the owner must be able to record its commits
      // before it makes any, not find out after its first one.
      auto fd = open_foreign_journal(self.opts.dir, self.dir_fd,
                                     self.opts.file_mode);
      if (!fd)
        return fd.as_status();
      self.foreign_fd = *fd;
    }
  }
  return plan;
}

// Phase 4: LMDB's environment, with the planned replay (a replay keeps
// data.mdb.undo until it succeeded) and the files' modes.
status open_environment(event_log::impl& self, planned& plan) {
  // LMDB and the replay open their files by path: it must still name the
  // directory checked above.
  if (self.dir_fd >= 0)
    if (auto st = check_same_dir(self.dir_fd, self.opts.dir); !st)
      return st;
  const bool journaling = journaling_owner(self.opts);
  const bool recover = plan.plan.what == recovery_plan::action::replay;
  if (recover)
    if (auto st = begin_replay(self.opts.dir, plan); !st)
      return abandon_replay(self.opts.dir, st);
  if (auto st = open_env(self, journaling, recover, plan); !st) {
    if (!recover)
      return st;
    close_env(self);
    return abandon_replay(self.opts.dir, st);
  }
  if (!self.opts.read_only)
    if (auto st = detail::apply_file_modes(self.dir_fd, self.opts); !st) {
      close_env(self);
      return st;
    }
  if (!journaling && self.foreign_fd >= 0) {
    MDB_stat st;
    mdb_env_stat(self.env, &st);
    self.page_size = st.ms_psize;
    self.foreign_sync = true;
  }
  return {};
}

// Phase 5: a writer's durability and writer thread.
void start(event_log::impl& self) {
  if (self.opts.read_only)
    return;
  self.dur = make_durability(self);
  self.callers_commit = self.dur->callers_commit();
  self.writer = std::thread{[p = &self] {
    set_thread_name("perdure-writer");
    p->run_writer();
  }};
}

} // namespace

result<std::unique_ptr<event_log>> event_log::open(options opts) {
  if (auto st = validate(opts); !st)
    return st;
  auto self = claim(std::move(opts));
  if (!self)
    return self.as_status();
  auto plan = plan_recovery(**self);
  if (!plan)
    return plan.as_status();
  if (auto st = open_environment(**self, *plan); !st)
    return st;
  start(**self);
  std::unique_ptr<event_log> log{new event_log{std::move(*self)}};
  if (!log->impl_->opts.read_only) {
    auto feeds =
      detail::settle_change_feeds(*log, log->impl_->opts.change_feeds);
    if (!feeds)
      return feeds.as_status();
    log->impl_->feeds = std::move(*feeds);
  }
  return log;
}

event_log::event_log(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

event_log::~event_log() {
  static_cast<void>(close()); // an engine reports it; see engine::close()
}

status event_log::close() {
  std::lock_guard<std::mutex> closing{impl_->close_mu};
  if (impl_->closed)
    return impl_->close_status;
  impl_->closed = true;
  impl_->queue.stop();
  if (impl_->writer.joinable())
    impl_->writer.join();
  if (impl_->dur)
    impl_->dur->stop();
  return impl_->close_status;
}

bool event_log::release(std::chrono::milliseconds wait) {
  static_cast<void>(close());
  std::unique_lock<std::shared_timed_mutex> excl{impl_->resize_mu,
                                                 std::defer_lock};
  if (!excl.try_lock_for(wait))
    return false;
  // A submitter that queued before close() may still be in lead().
  std::lock_guard<std::mutex> committing{impl_->commit_mu};
  impl_->dur.reset();
  impl_->jr.close_files();
  impl_->release_files();
  return true;
}

} // namespace perdure::eventlog
