// SPDX-License-Identifier: Apache-2.0
// The replay at open and its undo: data.mdb saved before recovery writes
// into it, and put back when the replay fails or was interrupted
// (journal_recovery.hpp).

#include "journal_recovery.hpp"
#include "log_impl.hpp"
#include "os_error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace perdure::eventlog::detail {

namespace {

constexpr const char* undo_name = "data.mdb.undo";
constexpr const char* undo_tmp_name = "data.mdb.undo.tmp";

struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0)
      ::close(fd);
  }
};

status sync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return os_error("open", dir);
  fd_closer c{fd};
  if (::fsync(fd) != 0)
    return os_error("fsync", dir);
  return {};
}

// Copies `from` to `to` (created, not following links) and syncs it.
status copy_synced(const std::filesystem::path& from,
                   const std::filesystem::path& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0)
    return os_error("open", from);
  fd_closer ci{in};
  struct stat st;
  if (::fstat(in, &st) != 0)
    return os_error("fstat", from);
  int out = ::open(to.c_str(),
                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                   st.st_mode & 07777);
  if (out < 0)
    return os_error("open", to);
  fd_closer co{out};
  off_t left = st.st_size;
  bool plain = false;
  char buf[1 << 16];
  while (left > 0) {
    ssize_t n = -1;
    if (!plain) {
      n = ::copy_file_range(in, nullptr, out, nullptr,
                            static_cast<std::size_t>(left), 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL
                    || errno == EOPNOTSUPP)) {
        plain = true;
        continue;
      }
    } else {
      n = ::read(in, buf, sizeof(buf));
      if (n > 0) {
        for (ssize_t done = 0; done < n;) {
          auto w = ::write(out, buf + done, static_cast<std::size_t>(n - done));
          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            return os_error("write", to);
          done += w;
        }
      }
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return os_error("copy", to);
    if (n == 0)
      break;
    left -= n;
  }
  if (::fsync(out) != 0)
    return os_error("fsync", to);
  return {};
}

} // namespace

status restore_undo(const std::filesystem::path& dir) {
  auto tmp = dir / undo_tmp_name;
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
    return os_error("unlink", tmp);
  auto undo = dir / undo_name;
  if (::access(undo.c_str(), F_OK) != 0)
    return {};
  // Renaming is atomic: data.mdb is either the half-recovered file or the
  // saved original, never a mix.
  if (::rename(undo.c_str(), (dir / "data.mdb").c_str()) != 0)
    return os_error("rename", undo);
  return sync_dir(dir);
}

status begin_replay(const std::filesystem::path& dir, const planned& p) {
  auto data = dir / "data.mdb";
  auto tmp = dir / undo_tmp_name;
  if (auto st = copy_synced(data, tmp); !st) {
    static_cast<void>(::unlink(tmp.c_str()));
    return {st.code(), fmt::format("saving data.mdb before recovery: {}; "
                                   "nothing was written",
                                   st.message())};
  }
  if (::rename(tmp.c_str(), (dir / undo_name).c_str()) != 0)
    return os_error("rename", tmp);
  if (auto st = sync_dir(dir); !st)
    return st;
  int fd = ::open(data.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return os_error("open", data);
  auto st = write_meta_pages(fd, p.base.page_size, p.base.meta);
  ::close(fd);
  return st;
}

status end_replay(const std::filesystem::path& dir, void* mdb_env) {
  if (int rc = mdb_env_sync(static_cast<MDB_env*>(mdb_env), 1);
      rc != MDB_SUCCESS)
    return from_mdb(rc, "mdb_env_sync(recovery)");
  auto undo = dir / undo_name;
  if (::unlink(undo.c_str()) != 0)
    return os_error("unlink", undo);
  return sync_dir(dir);
}

status abandon_replay(const std::filesystem::path& dir, const status& why) {
  if (auto st = restore_undo(dir); !st)
    return {st.code(), fmt::format("{}; and putting data.mdb back from {} "
                                   "failed: {} (the next open retries)",
                                   why.to_string(), undo_name, st.message())};
  auto code = why.code() == errc::full || why.code() == errc::io
                  || why.code() == errc::permission
                ? why.code()
                : errc::corruption;
  return {code, fmt::format("storage '{}': recovery failed ({}); data.mdb was "
                            "put back as it was before the open",
                            dir.string(), why.to_string())};
}

status check_data_file(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir / "data.mdb", ec))
    return {};
  for (auto name : {"journal-0", "journal-1"})
    if (std::filesystem::file_size(dir / name, ec) > 0 && !ec)
      return {errc::corruption,
              fmt::format("storage '{}': data.mdb is missing beside {}; an "
                          "empty storage is never started over an existing "
                          "journal (to start over, remove the journal files "
                          "as well)",
                          dir.string(), name)};
  return {};
}

} // namespace perdure::eventlog::detail

namespace perdure::eventlog {

using namespace detail;

// The journaling owner's start: recovery when the journal says so, then a
// first checkpoint. Runs after LMDB is open, before any writer thread.
status start_journal(event_log::impl& self, bool recover,
                     std::uint64_t base,
                     std::vector<journal_entry> entries) {
  MDB_stat st;
  mdb_env_stat(self.env, &st);
  self.page_size = st.ms_psize;
  int fd = -1;
  mdb_env_get_fd(self.env, &fd);
  self.jr.data_file(fd, self.page_size);
  if (recover) {
    // Keep the checkpoint's pages from being reused while replaying, so
    // that a crash during recovery can start it over.
    MDB_txn* pin = nullptr;
    if (int rc = mdb_txn_begin(self.env, nullptr, MDB_RDONLY, &pin);
        rc != MDB_SUCCESS)
      return from_mdb(rc, "mdb_txn_begin(pin)");
    self.pinned = pin;
    if (auto s = self.replay_journal(std::move(entries), base); !s)
      return s;
    if (auto s = end_replay(self.opts.dir, self.env); !s)
      return s;
  }
  if (auto s = self.checkpoint(false); !s)
    return s;
  self.journaled = true;
  return {};
}

} // namespace perdure::eventlog
