// SPDX-License-Identifier: Apache-2.0
// The tests' subprocess: pipes both ways, pause and resume, kill and reap,
// output to files and a given environment, with real programs.

#include <doctest/doctest.h>

#include "subprocess.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <csignal>
#include <fstream>
#include <sstream>

using namespace perdure::test;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in{p};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace

TEST_CASE("subprocess: lines in through stdin come back on stdout") {
  subprocess cat{{"/bin/cat"}, {.pipe_stdin = true}};
  CHECK(cat.send_line("one"));
  CHECK(cat.send_line("two"));
  CHECK(cat.read_line(20s) == "one");
  CHECK(cat.read_line(20s) == "two");
  CHECK(cat.send_line("three"));
  std::vector<std::string> got;
  REQUIRE(wait_until([&] {
    for (auto& l : cat.take_lines())
      got.push_back(l);
    return !got.empty();
  }));
  CHECK(got == std::vector<std::string>{"three"});
  CHECK(cat.running());
  CHECK_FALSE(cat.wait_for(0ms).has_value());
}

TEST_CASE("subprocess: a stopped child is seen stopped, then killed and "
          "reaped") {
  subprocess cat{{"/bin/cat"}, {.pipe_stdin = true}};
  cat.signal(SIGSTOP);
  REQUIRE(wait_until([&] { return cat.stopped(); }));
  cat.signal(SIGCONT);
  REQUIRE(wait_until([&] { return !cat.stopped(); }));
  cat.signal(SIGSTOP);
  REQUIRE(wait_until([&] { return cat.stopped(); }));
  cat.kill(); // a stopped child dies too
  CHECK_FALSE(cat.running());
  CHECK(cat.wait() == -SIGKILL);
  CHECK_FALSE(cat.send_line("late")); // its stdin is closed: no SIGPIPE
}

TEST_CASE("subprocess: exit codes, end of output, files and environment") {
  temp_dir dir;
  auto out = dir.path() / "out", err = dir.path() / "err";
  subprocess sh{{"/bin/sh", "-c", "echo \"$GREETING\"; echo oops >&2; exit 3"},
                {.stdout_file = out.string(),
                 .stderr_file = err.string(),
                 .env = std::vector<std::string>{"GREETING=hi"}}};
  CHECK(sh.wait() == 3);
  CHECK(slurp(out) == "hi\n");
  CHECK(slurp(err) == "oops\n");

  subprocess quiet{{"/bin/sh", "-c", "printf 'a\\nb'"}};
  CHECK(quiet.read_line(20s) == "a");
  CHECK(quiet.read_line(20s).empty()); // "b" has no newline: end of output
  CHECK(quiet.wait() == 0);

  subprocess missing{{"/nonexistent/program"}};
  CHECK(missing.wait() == 127);
}
