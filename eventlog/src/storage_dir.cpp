// SPDX-License-Identifier: Apache-2.0
#include "storage_dir.hpp"

#include "os_error.hpp"

#include "perdure/eventlog/storage_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace perdure::eventlog {

std::filesystem::path default_storage_dir() {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  if (auto s = env("PERDURE_STORAGE"))
    return s;
  if (::geteuid() == 0)
    return "/var/lib/perdure";
  if (auto s = env("XDG_STATE_HOME"))
    return std::filesystem::path{s} / "perdure";
  if (auto h = env("HOME"))
    return std::filesystem::path{h} / ".local" / "state" / "perdure";
  return "perdure-state";
}

namespace detail {

namespace {

// The files of a storage directory the log creates or opens for writing.
constexpr const char* storage_files[] = {
  "data.mdb",  "lock.mdb",  "perdure.lock",    "journal-0",
  "journal-1", "journal-foreign", "data.mdb.undo"};

status os_status(int err, const std::string& what) {
  return {errno_code(err), fmt::format("{}: {}", what, std::strerror(err))};
}

unsigned dir_mode(unsigned file_mode) {
  unsigned m = 0700 & (file_mode | 0100);
  if (file_mode & 040)
    m |= 050 & (file_mode | 010);
  if (file_mode & 004)
    m |= 005 & (file_mode | 001);
  return m;
}

// mkdir -p with `mode` for what it creates (chmod'ed past the umask).
status make_dirs(const std::filesystem::path& dir, unsigned mode) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0)
    return {};
  if (errno != ENOENT)
    return os_status(errno, fmt::format("stat({})", dir.string()));
  auto parent = dir.parent_path();
  if (!parent.empty() && parent != dir)
    if (auto s = make_dirs(parent, mode); !s)
      return s;
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return os_status(errno, fmt::format("mkdir({})", dir.string()));
  if (::chmod(dir.c_str(), mode) != 0)
    return os_status(errno, fmt::format("chmod({})", dir.string()));
  return {};
}

std::string describe_mode(mode_t m) {
  return fmt::format("{:04o}", static_cast<unsigned>(m & 07777));
}

} // namespace

namespace {

// Opens the storage directory itself. Its last component may be a symbolic
// link only when the link is this user's or root's: a link another user
// planted (in a directory they can write) is not followed.
result<int> open_dir(const std::filesystem::path& dir, uid_t me) {
  int dfd = ::open(dir.c_str(),
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd >= 0)
    return dfd;
  const int err = errno;
  struct stat ls;
  if ((err != ELOOP && err != ENOTDIR) || ::lstat(dir.c_str(), &ls) != 0
      || !S_ISLNK(ls.st_mode))
    return os_status(err, fmt::format("open({})", dir.string()));
  if (ls.st_uid != me && ls.st_uid != 0)
    return unexpected{
      errc::permission,
      fmt::format("storage directory '{}' is a symbolic link owned by uid "
                  "{}, not by this user (uid {}) or root; perdure does not "
                  "follow it",
                  dir.string(), ls.st_uid, me)};
  dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return os_status(errno, fmt::format("open({})", dir.string()));
  return dfd;
}

status check_dir(int dfd, const options& o, uid_t me) {
  struct stat st;
  if (::fstat(dfd, &st) != 0)
    return os_status(errno, fmt::format("fstat({})", o.dir.string()));
  if (st.st_uid != me)
    return {errc::permission,
            fmt::format("storage directory '{}' is owned by uid {}, not by "
                        "this user (uid {}); perdure writes only into "
                        "directories of its own user",
                        o.dir.string(), st.st_uid, me)};
  const bool group_may_write = (o.file_mode & 020) != 0;
  if ((st.st_mode & 002) || ((st.st_mode & 020) && !group_may_write))
    return {errc::permission,
            fmt::format("storage directory '{}' (mode {}) is writable by {}; "
                        "make it 0700 (chmod go-w)",
                        o.dir.string(), describe_mode(st.st_mode),
                        (st.st_mode & 002) ? "everyone" : "its group")};
  for (const char* name : storage_files) {
    struct stat fs;
    if (::fstatat(dfd, name, &fs, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT)
        continue;
      return os_status(errno, fmt::format("stat({})",
                                          (o.dir / name).string()));
    }
    const char* wrong = S_ISLNK(fs.st_mode)   ? "is a symbolic link"
                        : !S_ISREG(fs.st_mode) ? "is not a regular file"
                        : fs.st_uid != me      ? "is owned by another user"
                                               : nullptr;
    if (wrong)
      return {errc::permission,
              fmt::format("'{}' {}; perdure refuses the storage directory "
                          "rather than write through it",
                          (o.dir / name).string(), wrong)};
  }
  return {};
}

} // namespace

result<int> prepare_storage_dir(const options& o) {
  if ((o.file_mode & ~0666u) != 0)
    return unexpected{errc::invalid_argument,
                      fmt::format("options.file_mode {:04o} has bits other "
                                  "than read and write",
                                  o.file_mode)};
  if ((o.file_mode & 0600) != 0600)
    return unexpected{errc::invalid_argument,
                      "options.file_mode must let the owner read and write"};
  if (auto s = make_dirs(o.dir, dir_mode(o.file_mode)); !s)
    return s;
  const auto me = ::geteuid();
  auto dfd = open_dir(o.dir, me);
  if (!dfd)
    return dfd;
  if (auto s = check_dir(*dfd, o, me); !s) {
    ::close(*dfd);
    return s;
  }
  return dfd;
}

status check_same_dir(int dfd, const std::filesystem::path& dir) {
  struct stat a, b;
  if (::fstat(dfd, &a) != 0)
    return os_status(errno, fmt::format("fstat({})", dir.string()));
  if (::stat(dir.c_str(), &b) != 0)
    return os_status(errno, fmt::format("stat({})", dir.string()));
  if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
    return {errc::permission,
            fmt::format("storage directory '{}' was replaced while it was "
                        "being opened; nothing was written into the new one",
                        dir.string())};
  return {};
}

int open_storage_file(int dfd, const char* name, unsigned mode) {
  int fd = ::openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  fd = ::openat(dfd, name,
                O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0 && errno == EEXIST) // created meanwhile: open it
    return ::openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0 && ::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

status apply_file_modes(int dfd, const options& o) {
  const auto me = ::geteuid();
  for (const char* name : storage_files) {
    struct stat st;
    if (::fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0
        || !S_ISREG(st.st_mode) || st.st_uid != me
        || (st.st_mode & 0777) == o.file_mode)
      continue;
    int fd = ::openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
      continue;
    int rc = ::fchmod(fd, o.file_mode);
    int err = errno;
    ::close(fd);
    if (rc != 0)
      return os_status(err, fmt::format("chmod({})",
                                        (o.dir / name).string()));
  }
  return {};
}

} // namespace detail
} // namespace perdure::eventlog
