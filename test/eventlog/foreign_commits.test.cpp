// SPDX-License-Identifier: Apache-2.0
// event_log::foreign_commits: the commits of writers beside the owner (a
// tool's non-exclusive writer in another process), counted exactly, never
// the owner's, whatever the durability.

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "child_process.hpp"
#include "journal_support.hpp"
#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;
using namespace perdure::test;

// Appends N records, one commit each, to stream "tool" beside a running
// owner, as `perdure cancel` or `perdure signal` would, then prints "done".
PERDURE_CHILD_ENTRY("foreign_commits_writer") {
  options o;
  o.dir = args.at(0);
  o.exclusive = false;
  auto log = event_log::open(o);
  if (!log) {
    std::fprintf(stderr, "open: %s\n", log.as_status().to_string().c_str());
    return 3;
  }
  int n = std::stoi(args.at(1));
  for (int i = 1; i <= n; ++i)
    if (!(*log)->append("tool", 1, "t" + std::to_string(i)))
      return 2;
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}

namespace {

void run_beside_owner(options o) {
  temp_dir dir;
  o.dir = dir.path();
  auto log = open_ok(o);
  REQUIRE(log->append("own", 1, "first"));
  auto before = log->foreign_commits();
  REQUIRE(before);
  CHECK(*before == 0);
  // The owner keeps committing while the tool does, so that their
  // transactions interleave.
  std::atomic<bool> stop{false};
  std::atomic<int> own{0};
  std::thread owner{[&] {
    while (!stop.load())
      if (log->append("own", 1, "o"))
        ++own;
  }};
  {
    child_process tool{"foreign_commits_writer",
                       {dir.path().string(), "25"}};
    CHECK(tool.read_line() == "done");
    CHECK(tool.wait() == 0);
  }
  stop = true;
  owner.join();
  CHECK(own.load() > 0);
  auto after = log->foreign_commits();
  REQUIRE(after);
  CHECK(*after == 25);
  // The tool's records are readable once counted.
  auto tool = log->info("tool");
  REQUIRE(tool);
  CHECK(tool->last_seq == 25);
  // More own commits do not count.
  for (int i = 0; i < 20; ++i)
    REQUIRE(log->append("own", 1, "more"));
  CHECK(*log->foreign_commits() == 25);
}

} // namespace

TEST_CASE("foreign_commits counts another process's commits exactly: journal") {
  run_beside_owner(journal_opts({}));
}

TEST_CASE("foreign_commits counts another process's commits exactly: per_commit") {
  options o;
  o.sync = sync_policy::per_commit;
  run_beside_owner(o);
}

TEST_CASE("foreign_commits counts another process's commits exactly: process") {
  options o;
  o.mode = durability::process;
  run_beside_owner(o);
}

TEST_CASE("foreign_commits counts from the log's open and never the owner's commits") {
  temp_dir dir;
  {
    auto w = open_ok(journal_opts(dir.path()));
    REQUIRE(w->append("own", 1, "x"));
    child_process tool{"foreign_commits_writer", {dir.path().string(), "3"}};
    CHECK(tool.read_line() == "done");
    CHECK(tool.wait() == 0);
    CHECK(*w->foreign_commits() == 3);
    REQUIRE(w->close());
  }
  // Reopened: the count starts again, for the owner and a reader alike.
  auto w = open_ok(journal_opts(dir.path()));
  options ro;
  ro.dir = dir.path();
  ro.read_only = true;
  auto r = open_ok(ro);
  for (int i = 0; i < 3; ++i)
    REQUIRE(w->append("own", 1, "y"));
  CHECK(*w->foreign_commits() == 0);
  CHECK(*r->foreign_commits() == 0);
}

// A tool's commit that finds the map full when it counts itself grows the
// map and goes on, as any other write does, instead of failing `full`.
// Records of many sizes bring the map's end at every place in the
// transaction, the count's page among them.
TEST_CASE("a writer beside the owner grows the map when its count does not fit") {
  std::uint64_t grows = 0;
  for (std::size_t size = 1500; size < 9000; size += 97) {
    temp_dir dir;
    options o;
    o.dir = dir.path();
    o.mode = durability::process;
    o.exclusive = false;
    o.initial_map_size = std::size_t{1} << 20;
    auto log = open_ok(o);
    std::string value(size, 'v');
    int appended = 0;
    while (log->stats().map_grows == 0 && appended < 2000) {
      auto r = log->append("tool", 1, value);
      INFO("record size ", size, ", append ", appended + 1);
      REQUIRE(r);
      ++appended;
    }
    grows += log->stats().map_grows;
    // Each commit counted once, the one retried in a larger map too.
    CHECK(*log->foreign_commits() == static_cast<std::uint64_t>(appended));
  }
  CHECK(grows > 0);
}
