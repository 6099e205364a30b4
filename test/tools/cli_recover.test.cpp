// SPDX-License-Identifier: Apache-2.0
// recover [--dry-run] and verify's journal check, run as a subprocess on a
// storage left open by a crash, before and after a (simulated) reboot, and
// on one whose journal was cut short.

#include <doctest/doctest.h>

#include "cli_runner.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"

#include <fstream>
#include <iterator>
#include <map>

using namespace perdure;
using namespace perdure::test;
namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> files_of(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::directory_iterator{dir}) {
    auto name = e.path().filename().string();
    if (name == "lock.mdb" || name == "perdure.lock")
      continue;
    std::ifstream in{e.path(), std::ios::binary};
    out[name].assign(std::istreambuf_iterator<char>{in}, {});
  }
  return out;
}

// A journaled storage as a crash leaves it: the files of a log still open.
void crashed_storage(const fs::path& from, const fs::path& to) {
  eventlog::options o;
  o.dir = from;
  o.checkpoint_interval = std::chrono::hours{1};
  auto log = eventlog::event_log::open(o);
  REQUIRE(log);
  write_fixture(**log);
  fs::create_directories(to);
  for (auto name : {"data.mdb", "journal-0", "journal-1"})
    fs::copy_file(from / name, to / name);
}

} // namespace

TEST_CASE("recover --dry-run after a reboot says it replays and writes nothing, and recover does it") {
  temp_dir dir;
  auto s = dir / "s";
  crashed_storage(dir / "live", s);
  std::map<std::string, std::string> reboot{{"PERDURE_BOOT_ID", "other"}};
  auto before = files_of(s);
  auto r = run_perdure({"--storage", s.string(), "recover", "--dry-run"},
                       reboot);
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("plan:       replay") != std::string::npos);
  CHECK(r.out.find("left by another boot") != std::string::npos);
  CHECK(files_of(s) == before);
  // Without a reboot, the same files need only a checkpoint.
  r = run_perdure({"--storage", s.string(), "--json", "recover", "--dry-run"});
  CHECK(r.out.find("\"action\": \"checkpoint\"") != std::string::npos);
  r = run_perdure({"--storage", s.string(), "recover"}, reboot);
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("done:") != std::string::npos);
  r = run_perdure({"--storage", s.string(), "recover", "--dry-run"}, reboot);
  CHECK(r.out.find("plan:       none: the journal was closed cleanly")
        != std::string::npos);
  r = run_perdure({"--storage", s.string(), "verify"});
  CHECK_MESSAGE(r.code == 0, r.out, r.err);
}

TEST_CASE("verify and recover refuse a journal cut short, naming the file and byte") {
  temp_dir dir;
  auto s = dir / "s";
  crashed_storage(dir / "live", s);
  // The current generation is in journal-0 (the first one): cut it after
  // its header.
  fs::resize_file(s / "journal-0", 4096);
  auto before = files_of(s);
  auto r = run_perdure({"--storage", s.string(), "verify"});
  CHECK(r.code == 3);
  CHECK(r.out.find("journal-0 ends at byte 4096") != std::string::npos);
  r = run_perdure({"--storage", s.string(), "recover"},
                  {{"PERDURE_BOOT_ID", "other"}});
  CHECK(r.code == 3);
  CHECK(r.out.find("plan:       refuse") != std::string::npos);
  // A read after a reboot must not open an emptier store either.
  r = run_perdure({"--storage", s.string(), "list"},
                  {{"PERDURE_BOOT_ID", "other"}});
  CHECK(r.code == 4);
  CHECK(r.err.find("cut short") != std::string::npos);
  CHECK(r.err.find("journal-0") != std::string::npos);
  CHECK(files_of(s) == before);
}
