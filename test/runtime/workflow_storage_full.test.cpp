// SPDX-License-Identifier: Apache-2.0
// A storage without room reaches the workflow's caller as `full` (not
// `io`, not a hang), and everything acknowledged before stays: every
// workflow the caller saw succeed is there with its output after a reopen,
// and the one caught by the full disk resumes to its output once there is
// room. The disk is a file-size limit in a child process (process-wide).

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"

#include <sys/resource.h>

#include <csignal>
#include <iostream>
#include <sstream>

using namespace perdure;

namespace {

// 256 KiB outputs fill a 64 MiB file-size limit in a few hundred runs.
const auto t_big = step("storage_full_big", [](int i) {
  return std::string(256 << 10, static_cast<char>('a' + i % 26));
});

std::string wf_id(int i) {
  return "big" + std::to_string(i);
}

} // namespace

PERDURE_CHILD_ENTRY("engine-fill-with-file-limit") {
  std::signal(SIGXFSZ, SIG_IGN); // EFBIG instead of the signal
  rlimit lim{rlim_t{64} << 20, rlim_t{64} << 20};
  ::setrlimit(RLIMIT_FSIZE, &lim);
  engine eng{{.storage = args.at(0)}};
  int acked = 0;
  for (int i = 0; i < 2000; ++i) {
    auto r = eng.try_run(t_big(i), wf_id(i));
    if (!r) {
      std::cout << "failed " << to_string(r.error().code()) << ' '
                << r.error().message() << std::endl;
      break;
    }
    if (r->size() != std::size_t{256} << 10)
      return 3;
    ++acked;
  }
  std::cout << "acked " << acked << std::endl;
  return 0;
}

TEST_CASE("a full disk reaches the workflow's caller as full and every "
          "acknowledged workflow stays") {
  test::temp_dir dir;
  test::child_process child{"engine-fill-with-file-limit",
                            {dir.path().string()}};
  std::string failed_code, failed_message;
  int acked = -1;
  for (auto line = child.read_line(std::chrono::minutes{5}); !line.empty();
       line = child.read_line(std::chrono::minutes{5})) {
    MESSAGE(line);
    std::istringstream in{line};
    std::string word;
    in >> word;
    if (word == "failed") {
      in >> failed_code;
      std::getline(in, failed_message);
    } else if (word == "acked") {
      in >> acked;
    }
  }
  CHECK(child.wait() == 0);
  CHECK(failed_code == "full");
  CHECK(failed_message.find("File too large") != std::string::npos);
  REQUIRE(acked > 10);

  // With room again: every acknowledged workflow is there, and the one the
  // full disk caught resumes (or was never stored, and runs anew).
  engine eng{{.storage = dir.path()}};
  for (int i = 0; i < acked; ++i) {
    CAPTURE(i);
    REQUIRE(eng.status(wf_id(i)) == workflow_status::successful);
    CHECK(eng.output<std::string>(wf_id(i)) ==
          std::string(256 << 10, static_cast<char>('a' + i % 26)));
  }
  const auto want = std::string(256 << 10, static_cast<char>('a' + acked % 26));
  if (eng.try_status(wf_id(acked))) {
    eng.resume_all(true);
    CHECK(eng.output<std::string>(wf_id(acked)) == want); // waits for it
  } else {
    CHECK(eng.run(t_big(acked), wf_id(acked)) == want);
  }
}
