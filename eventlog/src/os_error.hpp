// SPDX-License-Identifier: Apache-2.0
#pragma once

// One mapping from the operating system's errors to perdure's codes, used
// by every file operation of the event log (see status.hpp: `full` is a
// disk or quota that has no room, `permission` a denied access).

#include "perdure/eventlog/status.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

namespace perdure::eventlog::detail {

/// `full` for ENOSPC, EDQUOT and EFBIG (a file-size limit), `permission`
/// for EACCES and EPERM, `io` for anything else.
inline errc errno_code(int err) noexcept {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return errc::full;
    case EACCES:
    case EPERM: return errc::permission;
    default: return errc::io;
  }
}

/// "what(path): <strerror(err)>" with errno_code(err).
inline status os_error(std::string_view what, const std::filesystem::path& path,
                       int err = errno) {
  return {errno_code(err),
          fmt::format("{}({}): {}", what, path.string(), std::strerror(err))};
}

/// LMDB reports a short write (the disk filled up, or the file reached
/// RLIMIT_FSIZE, in the middle of a write) as EIO, losing the reason. For
/// `rc` EIO from a write to `fd`, returns ENOSPC when its file system has
/// no room left and EFBIG when the file reached the file-size limit;
/// otherwise `rc`.
inline int explain_short_write(int rc, int fd) noexcept {
  if (rc != EIO || fd < 0)
    return rc;
  struct stat st;
  rlimit lim;
  if (::fstat(fd, &st) == 0 && ::getrlimit(RLIMIT_FSIZE, &lim) == 0
      && lim.rlim_cur != RLIM_INFINITY
      && static_cast<rlim_t>(st.st_size) >= lim.rlim_cur)
    return EFBIG;
  struct statvfs fs;
  if (::fstatvfs(fd, &fs) == 0) {
    auto blocks = ::geteuid() == 0 ? fs.f_bfree : fs.f_bavail;
    // Less room than one LMDB page of 4 KiB: the write ran out of space.
    if (static_cast<unsigned long long>(blocks) * fs.f_frsize < 4096)
      return ENOSPC;
  }
  return rc;
}

} // namespace perdure::eventlog::detail
