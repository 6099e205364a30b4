// SPDX-License-Identifier: Apache-2.0
#pragma once

// A side effect outside the engine, for crash tests: one line appended to
// a file and synced before the step goes on, so a line survives a SIGKILL
// of the process that wrote it.

#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace perdure::test {

/// Appends `line` (its newline included) to `path` and fsyncs it; a file
/// that cannot be opened is skipped (the test's counts then fail).
inline void append_durably(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0)
    return;
  (void) !::write(fd, line.data(), line.size());
  ::fsync(fd);
  ::close(fd);
}

} // namespace perdure::test
