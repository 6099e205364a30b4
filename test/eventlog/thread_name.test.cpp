// SPDX-License-Identifier: Apache-2.0
// Thread names: set_thread_name keeps Linux's 15 bytes, and a log with the
// journal runs its writer and syncer under their names (top -H, perf).

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <doctest/doctest.h>

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

using namespace perdure;
using namespace perdure::eventlog;

namespace {

std::set<std::string> thread_names() {
  std::set<std::string> out;
  for (auto& t : std::filesystem::directory_iterator{"/proc/self/task"}) {
    std::ifstream in{t.path() / "comm"};
    std::string name;
    std::getline(in, name);
    out.insert(name);
  }
  return out;
}

} // namespace

TEST_CASE("set_thread_name names the calling thread, cut to 15 bytes") {
  std::string seen;
  std::thread th{[&] {
    set_thread_name("perdure-a-very-long-name");
    std::ifstream in{"/proc/thread-self/comm"};
    std::getline(in, seen);
  }};
  th.join();
  CHECK(seen == "perdure-a-very-");
}

TEST_CASE("a log's writer and journal syncer run under their names") {
  test::temp_dir dir;
  options opts;
  opts.dir = dir.path();
  opts.mode = durability::sync;
  opts.writer_id = "test-engine";
  auto r = event_log::open(opts);
  REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
  // Each thread names itself once it runs.
  CHECK(test::wait_until([] {
    auto names = thread_names();
    return names.count("perdure-writer") == 1
           && names.count("perdure-sync") == 1;
  }));
  (*r).reset(); // joins them
  auto names = thread_names();
  CHECK(names.count("perdure-writer") == 0);
  CHECK(names.count("perdure-sync") == 0);
}
