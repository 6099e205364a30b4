// SPDX-License-Identifier: Apache-2.0
// Storage errors reach the caller with their code: a disk without room (a
// real full tmpfs, or a file-size limit) is `full`, never `io`, and what was
// acknowledged before stays; a failed final checkpoint is close()'s status.
// Each scenario runs in a child process (the limit and the mount are
// process-wide), which prints what it saw for the parent to check.

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <sstream>

#include "child_process.hpp"
#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;
namespace fs = std::filesystem;

namespace {

options small_store(const fs::path& dir) {
  options o;
  o.dir = dir;
  o.journal_size = std::size_t{1} << 20;
  o.initial_map_size = std::size_t{1} << 20;
  return o;
}

void limit_file_size(rlim_t bytes) {
  std::signal(SIGXFSZ, SIG_IGN); // EFBIG instead of the signal
  rlimit lim{bytes, bytes};
  ::setrlimit(RLIMIT_FSIZE, &lim);
}

// A private tmpfs of `size` at `dir`, seen by this process only and gone
// with it. False (with the reason printed) where mounts are not allowed.
bool mount_private_tmpfs(const fs::path& dir, const char* size) {
  std::string opts = std::string{"mode=0700,size="} + size;
  if (::unshare(CLONE_NEWNS) != 0
      || ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0
      || ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
    std::cout << "skip " << std::strerror(errno) << std::endl;
    return false;
  }
  return true;
}

// Appends 16 KiB records until a commit fails; prints "failed CODE MESSAGE",
// "acked N", "closed STATUS" and, from a read-only open, "stored N".
int fill(const fs::path& dir) {
  auto log = event_log::open(small_store(dir));
  if (!log) {
    std::cout << "open " << log.error().to_string() << std::endl;
    return 1;
  }
  const std::string payload(16 << 10, 'x');
  int acked = 0;
  for (int i = 0; i < 5000; ++i) {
    auto r = (*log)->append("s", 1, payload);
    if (!r) {
      std::cout << "failed " << to_string(r.error().code()) << ' '
                << r.error().message() << std::endl;
      break;
    }
    ++acked;
  }
  std::cout << "acked " << acked << std::endl;
  std::cout << "closed " << (*log)->close().to_string() << std::endl;
  log->reset();
  auto o = small_store(dir);
  o.read_only = true;
  auto ro = event_log::open(o);
  if (!ro) {
    std::cout << "reopen " << ro.error().to_string() << std::endl;
    return 1;
  }
  auto recs = (*ro)->read("s");
  std::cout << "stored " << (recs ? recs->size() : 0) << std::endl;
  return 0;
}

PERDURE_CHILD_ENTRY("fill-with-file-limit") {
  limit_file_size(rlim_t{4} << 20);
  return fill(args.at(0));
}

PERDURE_CHILD_ENTRY("fill-tmpfs") {
  if (!mount_private_tmpfs(args.at(0), "3m"))
    return 0;
  return fill(fs::path{args.at(0)} / "store");
}

// Commits three records, then lowers the file-size limit below the offsets
// the final checkpoint writes (the other journal file's zeroed head) and
// closes: prints "closed STATUS".
PERDURE_CHILD_ENTRY("close-past-limit") {
  auto log = event_log::open(small_store(args.at(0)));
  if (!log)
    return 1;
  for (int i = 0; i < 3; ++i)
    if (!(*log)->append("s", 1, "record"))
      return 2;
  limit_file_size(rlim_t{128} << 10);
  auto st = (*log)->close();
  std::cout << "closed " << to_string(st.code()) << ' ' << st.message()
            << std::endl;
  std::cout << "again " << to_string((*log)->close().code()) << std::endl;
  return 0;
}

struct child_report {
  std::string failed_code, failed_message, closed;
  long acked = -1, stored = -1;
  bool skipped = false;
  int exit = -1;
};

child_report run(const std::string& entry, const fs::path& dir) {
  test::child_process child{entry, {dir.string()}};
  child_report out;
  for (auto line = child.read_line(); !line.empty(); line = child.read_line()) {
    std::istringstream in{line};
    std::string word;
    in >> word;
    if (word == "failed") {
      in >> out.failed_code;
      std::getline(in, out.failed_message);
    } else if (word == "acked") {
      in >> out.acked;
    } else if (word == "stored") {
      in >> out.stored;
    } else if (word == "closed") {
      std::getline(in, out.closed);
    } else if (word == "skip") {
      out.skipped = true;
    }
    MESSAGE(line);
  }
  out.exit = child.wait();
  return out;
}

} // namespace

TEST_CASE("a file-size limit reached is full, not io, and every acknowledged record stays") {
  test::temp_dir tmp;
  auto r = run("fill-with-file-limit", tmp / "store");
  CHECK(r.exit == 0);
  CHECK(r.failed_code == "full");
  CHECK(r.failed_message.find("File too large") != std::string::npos);
  CHECK(r.acked > 10);
  CHECK(r.stored == r.acked);
  // Without the limit the storage opens as a writer and holds them all.
  auto log = event_log::open(small_store(tmp / "store"));
  REQUIRE_MESSAGE(log, log.as_status().to_string());
  CHECK((*log)->read("s")->size() == static_cast<std::size_t>(r.acked));
  CHECK((*log)->append("s", 1, "after"));
}

TEST_CASE("a full disk is full, not io, and every acknowledged record stays") {
  if (::geteuid() != 0) {
    MESSAGE("needs root to mount a small tmpfs; skipped");
    return;
  }
  test::temp_dir tmp;
  auto r = run("fill-tmpfs", tmp.path());
  if (r.skipped) {
    MESSAGE("mounting a tmpfs is not allowed here; skipped");
    return;
  }
  CHECK(r.exit == 0);
  CHECK(r.failed_code == "full");
  CHECK(r.failed_message.find("No space left on device") != std::string::npos);
  CHECK(r.acked > 10);
  CHECK(r.stored == r.acked);
}

TEST_CASE("close returns the final checkpoint's failure and the records stay") {
  test::temp_dir tmp;
  test::child_process child{"close-past-limit", {(tmp / "store").string()}};
  auto closed = child.read_line();
  auto again = child.read_line();
  CHECK(child.wait() == 0);
  CHECK(closed.starts_with("closed full "));
  CHECK(closed.find("journal-1") != std::string::npos);
  CHECK(closed.find("File too large") != std::string::npos);
  CHECK(again == "again full");
  auto log = event_log::open(small_store(tmp / "store"));
  REQUIRE_MESSAGE(log, log.as_status().to_string());
  CHECK((*log)->read("s")->size() == 3);
  CHECK((*log)->close());
}
