// SPDX-License-Identifier: Apache-2.0
// verify, run as a subprocess on a healthy and on a damaged storage.

#include <doctest/doctest.h>

#include "cli_runner.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"

#include "perdure/eventlog/record_kinds.hpp"

#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace perdure::test;
using nlohmann::json;

namespace {

// Flips one byte inside every copy of `marker` in `file` (LMDB may keep an
// old copy of a page in its free list); returns how many it changed.
int flip_marker(const std::filesystem::path& file, const std::string& marker) {
  std::string bytes;
  {
    std::ifstream in{file, std::ios::binary};
    bytes.assign(std::istreambuf_iterator<char>{in}, {});
  }
  int n = 0;
  for (auto pos = bytes.find(marker); pos != std::string::npos;
       pos = bytes.find(marker, pos + 1)) {
    bytes[pos + marker.size() / 2] ^= 0x20;
    ++n;
  }
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return n;
}

} // namespace

TEST_CASE("verify of a healthy storage exits 0 and says so") {
  temp_dir dir;
  {
    auto log = open_log(dir.path());
    write_fixture(*log);
  }
  auto r = run_perdure({"--storage", dir.path().string(), "verify"});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.rfind("ok: ", 0) == 0);
  CHECK(r.out.find("no damage") != std::string::npos);
  // Not a terminal: no progress bar on stderr.
  CHECK(r.err.empty());
}

TEST_CASE("verify reports a flipped byte by stream and seq and exits 3") {
  temp_dir dir;
  const std::string marker = "victim-payload-MARKER-4f1c9a";
  {
    auto log = open_log(dir.path());
    write_fixture(*log);
    for (int i = 1; i <= 3; ++i)
      REQUIRE(log->append("victim", 0,
                          i == 2 ? marker : "plain-" + std::to_string(i)));
  }
  REQUIRE(flip_marker(dir / "data.mdb", marker) >= 1);
  auto r = run_perdure({"--storage", dir.path().string(), "verify"});
  CHECK(r.code == 3);
  CHECK(r.out.find("STREAM") != std::string::npos);
  CHECK(r.out.find("victim  ") != std::string::npos);
  CHECK(r.out.find("damage: 1 problem in 1 stream") != std::string::npos);
  auto j = json::parse(
    run_perdure({"--storage", dir.path().string(), "verify", "--json"}).out);
  CHECK(j["ok"] == false);
  REQUIRE(j["damage"].size() == 1);
  CHECK(j["damage"][0]["stream"] == "victim");
  CHECK(j["damage"][0]["seq"] == 2);
  // The damaged record is a clear error for history too; others still read.
  auto h = run_perdure({"--storage", dir.path().string(), "history", "victim"});
  CHECK(h.code == 4);
  CHECK(h.err.find("victim") != std::string::npos);
  CHECK(run_perdure({"--storage", dir.path().string(), "show", "sum_example"})
          .code == 0);
}

TEST_CASE("verify reports a perdure record whose payload is no FlexBuffer") {
  temp_dir dir;
  {
    auto log = open_log(dir.path());
    write_fixture(*log);
    // Checksummed fine by the log, but not a payload any tool can read.
    REQUIRE(log->append("sum_example",
                        eventlog::to_u16(eventlog::record_kind::step_started),
                        std::string("\x01\x02\x03 not flex", 13)));
    // A user record may hold any bytes.
    REQUIRE(log->append("raw", 0, "any bytes at all"));
  }
  auto r = run_perdure({"--storage", dir.path().string(), "verify", "--json"});
  CHECK(r.code == 3);
  auto j = json::parse(r.out);
  REQUIRE(j["damage"].size() == 1);
  CHECK(j["damage"][0]["stream"] == "sum_example");
  CHECK(j["damage"][0]["seq"] == 9);
  CHECK(j["damage"][0]["what"].get<std::string>().rfind("step_started payload", 0)
        == 0);
  CHECK(j["payloads"] == 30);
}
