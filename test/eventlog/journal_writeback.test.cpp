// SPDX-License-Identifier: Apache-2.0
// The journal's paced write-back of LMDB's pages between checkpoints
// (options::writeback_interval): it runs while writes go on, never when
// turned off, and a bad interval is refused before anything is created.

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include "journal_support.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <future>
#include <vector>

using namespace perdure;
using namespace perdure::eventlog;
using namespace perdure::test;

TEST_CASE("journal: LMDB's pages are written back between checkpoints while writes go on") {
  test::temp_dir dir;
  auto o = journal_opts(dir.path()); // no periodic checkpoint
  o.writeback_interval = std::chrono::milliseconds{1};
  auto log = open_ok(o);
  const auto checkpoints = log->stats().checkpoints;
  int n = 0;
  // Concurrent writers (groups of several batches); the write-back
  // follows within the interval of such a commit.
  CHECK(wait_until([&] {
    std::vector<std::future<result<commit_info>>> acks;
    for (int i = 0; i < 64; ++i, ++n) {
      write_batch b;
      b.append("s", 1, std::string(4000, 'x'));
      acks.push_back(log->submit(std::move(b)));
    }
    for (auto& a : acks)
      REQUIRE(a.get());
    return log->stats().writebacks > 0;
  }));
  CHECK(log->stats().checkpoints == checkpoints);
  CHECK(log->read("s")->size() == static_cast<std::size_t>(n));
}

TEST_CASE("journal: a lone writer's commits are not written back early") {
  test::temp_dir dir;
  auto o = journal_opts(dir.path());
  o.writeback_interval = std::chrono::milliseconds{1};
  auto log = open_ok(o);
  for (int i = 0; i < 200; ++i) // one batch per group
    REQUIRE(log->append("s", 1, std::string(4000, 'x')));
  REQUIRE(log->close());
  CHECK(log->stats().writebacks == 0);
}

TEST_CASE("journal: writeback_interval 0 writes nothing back between checkpoints") {
  test::temp_dir dir;
  auto o = journal_opts(dir.path());
  o.writeback_interval = std::chrono::milliseconds{0};
  auto log = open_ok(o);
  std::vector<std::future<result<commit_info>>> acks;
  for (int i = 0; i < 500; ++i) {
    write_batch b;
    b.append("s", 1, std::string(4000, 'x'));
    acks.push_back(log->submit(std::move(b)));
  }
  for (auto& a : acks)
    REQUIRE(a.get());
  REQUIRE(log->close());
  CHECK(log->stats().writebacks == 0);
}

TEST_CASE("a negative writeback_interval is refused and creates nothing") {
  test::temp_dir dir;
  auto o = journal_opts(dir / "store");
  o.writeback_interval = std::chrono::milliseconds{-1};
  auto r = event_log::open(o);
  REQUIRE_FALSE(r);
  CHECK(r.as_status().code() == errc::invalid_argument);
  CHECK(r.as_status().message().find("writeback_interval")
        != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "store"));
}
