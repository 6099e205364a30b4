// SPDX-License-Identifier: Apache-2.0
// A write from the CLI by a user who may not record it for recovery
// (journal-foreign not writable) is refused before anything is written;
// once it may, the same command succeeds and exits 0.

#include <doctest/doctest.h>

#include "cli_runner.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

using namespace perdure;
using namespace perdure::test;
namespace fs = std::filesystem;

namespace {

constexpr uid_t nobody = 65534;

std::string bytes_of(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

// `perdure --storage DIR args...` run as user nobody.
cli_result cli_as_nobody(const fs::path& dir, std::vector<std::string> args) {
  std::vector<std::string> head{"--reuid=65534", "--regid=65534",
                                "--clear-groups", perdure_cli_path(),
                                "--storage", dir.string()};
  args.insert(args.begin(), head.begin(), head.end());
  return run_program("/usr/bin/setpriv", args);
}

} // namespace

TEST_CASE("delete by a user who cannot write journal-foreign is refused before writing, and permitted it exits 0") {
  if (::geteuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0) {
    MESSAGE("needs root and setpriv to run the CLI as another user; skipped");
    return;
  }
  temp_dir dir;
  {
    auto log = open_log(dir.path());
    write_fixture(*log);
  }
  // The storage is nobody's; its journal-foreign is read-only to nobody.
  auto foreign = dir / "journal-foreign";
  std::ofstream{foreign}.flush();
  for (auto& p : {dir.path(), dir / "data.mdb", dir / "lock.mdb",
                  dir / "perdure.lock", dir / "journal-0", dir / "journal-1",
                  foreign})
    if (fs::exists(p))
      REQUIRE(::chown(p.c_str(), nobody, nobody) == 0);
  REQUIRE(::chmod(foreign.c_str(), 0400) == 0);
  const auto data_before = bytes_of(dir / "data.mdb");
  const auto foreign_before = bytes_of(foreign);

  auto refused = cli_as_nobody(dir.path(), {"delete", "sum_example"});
  CHECK(refused.code == 4);
  CHECK(refused.out.empty());
  CHECK(refused.err.find(foreign.string()) != std::string::npos);
  CHECK(refused.err.find("Permission denied") != std::string::npos);
  CHECK(refused.err.find("nothing was written") != std::string::npos);
  CHECK(refused.err.find("(permission)") != std::string::npos);
  CHECK(bytes_of(dir / "data.mdb") == data_before);
  CHECK(bytes_of(foreign) == foreign_before);
  CHECK(cli_as_nobody(dir.path(), {"show", "sum_example"}).code == 0);

  REQUIRE(::chmod(foreign.c_str(), 0600) == 0);
  auto done = cli_as_nobody(dir.path(), {"delete", "sum_example"});
  CHECK_MESSAGE(done.code == 0, done.err);
  CHECK(done.err.empty());
  CHECK(done.out
        == "deleted workflow 'sum_example' (8 records, was successful)\n");
  CHECK(cli_as_nobody(dir.path(), {"show", "sum_example"}).code == 2);
  CHECK(bytes_of(foreign) != foreign_before); // the commit was recorded
}
