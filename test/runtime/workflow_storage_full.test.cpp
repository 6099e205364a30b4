// SPDX-License-Identifier: Apache-2.0
// A storage without room reaches the workflow's caller as `full` (not
// `io`, not a hang), and everything acknowledged before stays: every
// workflow the caller saw succeed is there with its output after a reopen,
// and the one caught by the full disk resumes to its output once there is
// room. The disk is a file-size limit in a child process (process-wide).

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "fill_report.hpp"
#include "temp_dir.hpp"


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
  test::limit_file_size(rlim_t{64} << 20);
  engine eng{{.storage = args.at(0)}};
  test::fill_until_refused(2000, [&](int i) {
    auto r = eng.try_run(t_big(i), wf_id(i));
    if (!r)
      return r.error();
    return r->size() == std::size_t{256} << 10
             ? status{}
             : status{errc::corruption, "a wrong output"};
  });
  return 0;
}

TEST_CASE("a full disk reaches the workflow's caller as full and every "
          "acknowledged workflow stays") {
  test::temp_dir dir;
  const int acked = test::fill_to_full("engine-fill-with-file-limit", dir.path());

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
