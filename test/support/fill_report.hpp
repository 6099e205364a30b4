// SPDX-License-Identifier: Apache-2.0
#pragma once

// A child that fills its storage under a file-size limit prints, at the
// first write refused, "failed CODE MESSAGE", and at the end "acked N"
// (the writes its caller saw succeed). The parent reads both here.

#include "child_process.hpp"

#include "perdure/eventlog/status.hpp"

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>

namespace perdure::test {

/// Child side: a write that would make a file larger than `bytes` fails
/// with EFBIG (SIGXFSZ ignored), as on a full disk. Process-wide.
inline void limit_file_size(rlim_t bytes) {
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit lim{bytes, bytes};
  ::setrlimit(RLIMIT_FSIZE, &lim);
}

/// Child side: makes writes 0, 1, ... (`write(i)`: its status; a wrong
/// answer is an error of the caller's choosing) until one fails or `max`
/// succeeded, and prints what read_fill_report reads.
inline void fill_until_refused(int max,
                               const std::function<status(int)>& write) {
  int acked = 0;
  for (; acked < max; ++acked) {
    auto st = write(acked);
    if (!st) {
      std::cout << "failed " << to_string(st.code()) << ' ' << st.message()
                << std::endl;
      break;
    }
  }
  std::cout << "acked " << acked << std::endl;
}

struct fill_report {
  std::string code;    ///< the refused write's errc name ("" if none)
  std::string message; ///< its message
  int acked = -1;      ///< -1: the child never said
};

/// Reads the child's lines (each one logged) until its output ends.
inline fill_report read_fill_report(child_process& child) {
  fill_report out;
  for (auto line = child.read_line(std::chrono::minutes{5}); !line.empty();
       line = child.read_line(std::chrono::minutes{5})) {
    MESSAGE(line);
    std::istringstream in{line};
    std::string word;
    in >> word;
    if (word == "failed") {
      in >> out.code;
      std::getline(in, out.message);
    } else if (word == "acked") {
      in >> out.acked;
    }
  }
  return out;
}

/// Parent side: runs child entry `name` on `dir` (it fills the storage
/// there under a file-size limit) and checks it was refused with `full`
/// ("File too large") after more than 10 acknowledged writes: their
/// count.
inline int fill_to_full(const std::string& name,
                        const std::filesystem::path& dir) {
  child_process child{name, {dir.string()}};
  auto filled = read_fill_report(child);
  CHECK(child.wait() == 0);
  CHECK(filled.code == "full");
  CHECK(filled.message.find("File too large") != std::string::npos);
  REQUIRE(filled.acked > 10);
  return filled.acked;
}

} // namespace perdure::test
