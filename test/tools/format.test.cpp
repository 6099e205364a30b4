// SPDX-License-Identifier: Apache-2.0
// In-process tests of the CLI library: human formatting and the entry point
// an application calls with its own argv.

#include <doctest/doctest.h>

#include "format.hpp"
#include "payload_json.hpp"
#include "perdure/tools/cli.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"

#include <cstdlib>
#include <sstream>

using namespace perdure;
using namespace perdure::tools;

TEST_CASE("sizes, durations and counts are humanised") {
  CHECK(human_size(512) == "512 B");
  CHECK(human_size(1536) == "1.50 KiB");
  CHECK(human_size(std::uint64_t{64} << 30) == "64.0 GiB");
  CHECK(human_duration(850) == "850 ns");
  CHECK(human_duration(12'300) == "12.3 µs");
  CHECK(human_duration(1'250'000) == "1.25 ms");
  CHECK(human_duration(3'400'000'000) == "3.40 s");
  CHECK(human_duration(125'000'000'000) == "2m05s");
  CHECK(human_duration(3'720'000'000'000) == "1h02m");
  CHECK(human_duration(-1) == "-");
  CHECK(group_digits(1'000'000) == "1,000,000");
  CHECK(group_digits(999) == "999");
}

TEST_CASE("times print in UTC or local time and parse back") {
  eventlog::time_ns t = 1'700'000'000'123'456'789;
  CHECK(human_time(t, true) == "2023-11-14 22:13:20.123Z");
  CHECK(iso_time(t, true) == "2023-11-14T22:13:20.123456Z");
  eventlog::time_ns back = 0;
  REQUIRE(parse_time("2023-11-14T22:13:20.123456789Z", false, back));
  CHECK(back == t);
  REQUIRE(parse_time("2023-11-14 23:13:20+01:00", false, back));
  CHECK(back == 1'700'000'000'000'000'000);
  REQUIRE(parse_time(iso_time(t, false), false, back));
  CHECK(back == t - 789);
  CHECK_FALSE(parse_time("yesterday", false, back));
  CHECK(human_time(0, false) == "-");
}

TEST_CASE("a table aligns columns by display width and right-aligns "
          "numbers") {
  table t{{"ID", "N"}, {1}};
  t.add({"µs-step", "5"});
  t.add({"a", "1,000"});
  std::ostringstream out;
  t.print(out, false);
  CHECK(out.str() == "ID           N\n"
                     "µs-step      5\n"
                     "a        1,000\n");
  std::ostringstream colored;
  t.print(colored, true);
  CHECK(colored.str().find("\x1b[1mID") != std::string::npos);
}

TEST_CASE("base64 round-trips and nested user values unwrap in payloads") {
  for (std::string s : {std::string{}, std::string{"a"}, std::string{"ab"},
                        std::string{"abc"}, std::string{"abcd"},
                        std::string("\0\xff", 2)})
    CHECK(base64_decode(base64_encode(s)) == s);
  CHECK_FALSE(base64_decode("a$b="));
}

TEST_CASE("run_cli works in-process and colours only a terminal without "
          "NO_COLOR") {
  test::temp_dir dir;
  {
    auto log = test::open_log(dir.path());
    test::write_fixture(*log);
  }
  std::ostringstream out, err;
  cli_io tty{out, err, true, false};
  ::unsetenv("NO_COLOR");
  CHECK(run_cli({"perdure", "--storage", dir.path().string(), "list"}, tty) == 0);
  CHECK(out.str().find("\x1b[32msuccessful") != std::string::npos);
  out.str("");
  ::setenv("NO_COLOR", "1", 1);
  CHECK(run_cli({"perdure", "--storage", dir.path().string(), "list"}, tty) == 0);
  CHECK(out.str().find('\x1b') == std::string::npos);
  ::unsetenv("NO_COLOR");
  out.str("");
  CHECK(run_cli({"perdure", "--storage", dir.path().string(), "show", "x"},
                tty)
        == 2);
  CHECK(err.str().find("no workflow or actor 'x'") != std::string::npos);
}
