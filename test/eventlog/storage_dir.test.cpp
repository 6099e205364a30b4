// SPDX-License-Identifier: Apache-2.0
// Safe storage directories: another user's directory, a directory writable
// by others and planted symbolic links are refused before anything is
// written; what the log creates is private whatever the umask.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/storage_dir.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>

#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;
namespace fs = std::filesystem;

namespace {

constexpr uid_t nobody = 65534;

result<std::unique_ptr<event_log>> open_at(const fs::path& dir,
                                           unsigned file_mode = 0600) {
  options o;
  o.dir = dir;
  o.file_mode = file_mode;
  return event_log::open(o);
}

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  for (auto& e : fs::directory_iterator(dir))
    out.insert(e.path().filename().string());
  return out;
}

mode_t mode_of(const fs::path& p) {
  struct stat st;
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Sets the umask for a scope.
struct with_umask {
  mode_t old;
  explicit with_umask(mode_t m) : old(::umask(m)) {
  }
  ~with_umask() {
    ::umask(old);
  }
};

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream{p} << text;
}

std::string read_file(const fs::path& p) {
  std::ifstream in{p};
  return {std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

TEST_CASE("a storage the log creates is private whatever the umask") {
  test::temp_dir tmp;
  with_umask um{0};
  auto dir = tmp / "a" / "b" / "store";
  {
    auto log = open_at(dir);
    REQUIRE_MESSAGE(log, log.as_status().to_string());
    write_batch b;
    b.create("wf", stream_kind::workflow).append("wf", 1, "x");
    REQUIRE((*log)->commit(std::move(b)));
  }
  CHECK(mode_of(tmp / "a") == 0700);
  CHECK(mode_of(tmp / "a" / "b") == 0700);
  CHECK(mode_of(dir) == 0700);
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) {
    CAPTURE(e.path().string());
    CHECK((mode_of(e.path()) & 077) == 0);
    ++files;
  }
  CHECK(files >= 3); // data.mdb, lock.mdb, perdure.lock, the journal
}

TEST_CASE("file_mode chooses the files' and new directories' bits, and tightens an older storage's files") {
  test::temp_dir tmp;
  with_umask um{077};
  auto dir = tmp / "shared";
  REQUIRE(open_at(dir, 0640));
  CHECK(mode_of(dir) == 0750);
  CHECK(mode_of(dir / "data.mdb") == 0640);
  CHECK(mode_of(dir / "perdure.lock") == 0640);
  // What an older perdure left: 0644 files. The next open makes them 0600.
  for (auto& e : fs::directory_iterator(dir))
    fs::permissions(e.path(), fs::perms(0644));
  REQUIRE(open_at(dir));
  CHECK(mode_of(dir / "data.mdb") == 0600);
  CHECK(mode_of(dir / "journal-0") == 0600);
  // Bits beyond read and write, or none for the owner, are invalid.
  CHECK(open_at(tmp / "x", 0755).as_status().code() == errc::invalid_argument);
  CHECK(open_at(tmp / "y", 0044).as_status().code() == errc::invalid_argument);
  CHECK_FALSE(fs::exists(tmp / "x"));
}

TEST_CASE("a storage directory of another user is refused and nothing is written into it") {
  if (::geteuid() != 0) {
    MESSAGE("needs root to give a directory to another user; skipped");
    return;
  }
  test::temp_dir tmp;
  auto dir = tmp / "perdure";
  fs::create_directories(dir);
  REQUIRE(::chown(dir.c_str(), nobody, nobody) == 0);
  auto r = open_at(dir);
  REQUIRE_FALSE(r);
  CHECK(r.as_status().code() == errc::permission);
  CHECK(r.as_status().message().find("owned by uid 65534") != std::string::npos);
  CHECK(entries(dir).empty());
}

TEST_CASE("a storage directory writable by others is refused") {
  test::temp_dir tmp;
  auto dir = tmp / "open";
  fs::create_directories(dir);
  for (auto bits : {0777, 01777, 0770}) {
    CAPTURE(bits);
    fs::permissions(dir, fs::perms(bits));
    auto r = open_at(dir);
    REQUIRE_FALSE(r);
    CHECK(r.as_status().code() == errc::permission);
    CHECK(r.as_status().message().find("chmod go-w") != std::string::npos);
    CHECK(entries(dir).empty());
  }
  // A group may write when file_mode gives it write access.
  fs::permissions(dir, fs::perms(0770));
  CHECK(open_at(dir, 0660));
}

TEST_CASE("a symbolic link planted among the storage's files is refused and its target left alone") {
  for (const char* planted : {"perdure.lock", "journal-0", "journal-1",
                              "journal-foreign", "data.mdb", "lock.mdb",
                              "data.mdb.undo"}) {
    CAPTURE(planted);
    test::temp_dir tmp;
    auto victim = tmp / "victim";
    write_file(victim, "precious");
    auto before = fs::last_write_time(victim);
    auto dir = tmp / "store";
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms(0700));
    fs::create_symlink(victim, dir / planted);
    auto r = open_at(dir);
    REQUIRE_FALSE(r);
    CHECK(r.as_status().code() == errc::permission);
    CHECK(r.as_status().message().find("symbolic link") != std::string::npos);
    CHECK(read_file(victim) == "precious");
    CHECK(fs::last_write_time(victim) == before);
    CHECK(entries(dir) == std::set<std::string>{planted});
  }
}

TEST_CASE("a storage path that is another user's symbolic link is not followed, the user's own is") {
  if (::geteuid() != 0) {
    MESSAGE("needs root to give a link to another user; skipped");
    return;
  }
  test::temp_dir tmp;
  // The victim: a private directory of this user, with a file in it.
  auto victim = tmp / "private";
  fs::create_directories(victim);
  fs::permissions(victim, fs::perms(0700));
  write_file(victim / "keep", "precious");
  auto before = fs::last_write_time(victim / "keep");
  // Another user planted the storage path as a link to it.
  auto planted = tmp / "perdure";
  fs::create_directory_symlink(victim, planted);
  REQUIRE(::lchown(planted.c_str(), nobody, nobody) == 0);
  auto r = open_at(planted);
  REQUIRE_FALSE(r);
  CHECK(r.as_status().code() == errc::permission);
  CHECK(r.as_status().message().find("symbolic link owned by uid 65534")
        != std::string::npos);
  CHECK(entries(victim) == std::set<std::string>{"keep"});
  CHECK(read_file(victim / "keep") == "precious");
  CHECK(fs::last_write_time(victim / "keep") == before);
  // A link of the user's own (storage moved to another disk) is followed.
  REQUIRE(::lchown(planted.c_str(), 0, 0) == 0);
  {
    auto log = open_at(planted);
    REQUIRE_MESSAGE(log, log.as_status().to_string());
  }
  CHECK(fs::exists(victim / "data.mdb"));
  CHECK(fs::is_symlink(planted));
}

TEST_CASE("the default storage directory is per user, never a shared path") {
  auto saved = [](const char* n) -> std::optional<std::string> {
    const char* v = std::getenv(n);
    return v ? std::optional<std::string>{v} : std::nullopt;
  };
  auto ps = saved("PERDURE_STORAGE"), xdg = saved("XDG_STATE_HOME"),
       home = saved("HOME");
  auto restore = [](const char* n, const std::optional<std::string>& v) {
    if (v)
      ::setenv(n, v->c_str(), 1);
    else
      ::unsetenv(n);
  };
  ::setenv("PERDURE_STORAGE", "/srv/orders", 1);
  CHECK(default_storage_dir() == "/srv/orders");
  ::unsetenv("PERDURE_STORAGE");
  ::setenv("XDG_STATE_HOME", "/home/ann/.state", 1);
  ::setenv("HOME", "/home/ann", 1);
  if (::geteuid() == 0) {
    CHECK(default_storage_dir() == "/var/lib/perdure");
    // Another user, in a child process (setuid cannot be undone).
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (::setresuid(nobody, nobody, nobody) != 0)
        ::_exit(10);
      if (default_storage_dir() != "/home/ann/.state/perdure")
        ::_exit(11);
      ::unsetenv("XDG_STATE_HOME");
      if (default_storage_dir() != "/home/ann/.local/state/perdure")
        ::_exit(12);
      ::_exit(0);
    }
    int st = 0;
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
  } else {
    CHECK(default_storage_dir() == "/home/ann/.state/perdure");
  }
  restore("PERDURE_STORAGE", ps);
  restore("XDG_STATE_HOME", xdg);
  restore("HOME", home);
}

// Run by the test below in a fresh process of this binary (the handlers
// are process-wide and installed once per process): opens a log with
// map_guard as PERDURE_MAP_GUARD_CHILD says and compares the SIGSEGV and
// SIGBUS handlers with those the process had before (doctest's, or a
// sanitizer's): off, they stay; on, the guard's (taking siginfo) replace
// them.
TEST_CASE("map_guard child (run by the next test)") {
  const char* mode = std::getenv("PERDURE_MAP_GUARD_CHILD");
  if (!mode)
    return;
  bool guard = std::string{mode} == "1";
  struct sigaction before[2];
  const int sigs[2] = {SIGBUS, SIGSEGV};
  for (int i = 0; i < 2; ++i)
    REQUIRE(::sigaction(sigs[i], nullptr, &before[i]) == 0);
  options o;
  o.dir = std::getenv("PERDURE_MAP_GUARD_DIR");
  o.map_guard = guard;
  auto log = event_log::open(o);
  REQUIRE(log);
  for (int i = 0; i < 2; ++i) {
    CAPTURE(sigs[i]);
    struct sigaction sa;
    REQUIRE(::sigaction(sigs[i], nullptr, &sa) == 0);
    bool replaced = sa.sa_sigaction != before[i].sa_sigaction;
    CHECK(replaced == guard);
    if (guard)
      CHECK((sa.sa_flags & SA_SIGINFO) != 0);
  }
}

TEST_CASE("map_guard off installs no SIGSEGV/SIGBUS handler, and on it does") {
  for (bool guard : {false, true}) {
    CAPTURE(guard);
    test::temp_dir tmp;
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::setenv("PERDURE_MAP_GUARD_CHILD", guard ? "1" : "0", 1);
      ::setenv("PERDURE_MAP_GUARD_DIR", (tmp / "s").c_str(), 1);
      ::execl("/proc/self/exe", "eventlog_test",
              "-tc=map_guard child (run by the next test)", nullptr);
      ::_exit(127);
    }
    int st = 0;
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
  }
}
