// SPDX-License-Identifier: Apache-2.0
// A paused owner (SIGSTOP: its process and sockets stay) is taken over once
// its door answers no ping for suspect_after, long before the consumer
// group's session timeout would let the group move its partitions. A
// perdure-cluster-engine-node process beside an in-process engine_host, on
// the 3-broker mock.

#include <doctest/doctest.h>

#include "perdure/cluster/engine_host.hpp"

#include "node_test_util.hpp"
#include "subprocess.hpp"
#include "temp_dir.hpp"

#include <csignal>
#include <sstream>
#include <string>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

// The partitions the node process runs engines for.
std::size_t running_there(subprocess& node) {
  if (!node.send_line("running"))
    return 0;
  for (auto line = node.read_line(60s); !line.empty();
       line = node.read_line(60s))
    if (line.rfind("running", 0) == 0) {
      std::istringstream in{line.substr(7)};
      std::size_t n = 0;
      for (int p; in >> p;)
        ++n;
      return n;
    }
  return 0;
}

} // namespace

TEST_CASE("a paused owner is taken over once its door answers no ping, "
          "before its session times out") {
  // 60 s: the group cannot move anything within this test's waits.
  const std::string session = "60000";
  auto mock = start_mock("suspect", 2);
  temp_dir dir;
  subprocess node{{PERDURE_CLUSTER_ENGINE_NODE, "--brokers",
                   mock->bootstrap(), "--app", "suspect", "--id", "n1",
                   "--dir", (dir / "n1").string(), "--effects",
                   (dir / "effects").string(), "--session-timeout-ms",
                   session, "--heartbeat-ms", "1000"},
                  subprocess_options{.pipe_stdin = true}};
  REQUIRE(node.read_line(120s) == "ready");

  engine_host_options o;
  o.node = node_options_for(*mock, "suspect", dir / "h", "h");
  o.node.group_properties = {{"session.timeout.ms", session},
                             {"heartbeat.interval.ms", "1000"}};
  o.engine.actor_threads = 1;
  o.engine.stop_timeout = std::chrono::milliseconds{200};
  o.serve_address = "127.0.0.1:0";
  o.suspect_after = std::chrono::milliseconds{1000};
  o.handover_wait = {}; // the node is stopped at the end, not handed to

  auto h = engine_host::start(std::move(o));
  REQUIRE_MESSAGE(h, h.error().to_string());
  // Both in the group's first generation (the mock holds a first join 3
  // s; a later join would wait for the session timeout): one partition
  // each.
  REQUIRE(wait_until([&] {
    return (*h)->running().size() == 1 && running_there(node) == 1;
  }, 90s));

  node.signal(SIGSTOP);
  REQUIRE(wait_until([&] { return node.stopped(); }, 30s));
  // Taken over by the door's ping (the paused process's connections stay
  // open, and the group would wait for the 60 s session): counted in
  // taken_over, which only a door's watch starts.
  CHECK(wait_until([&] { return (*h)->running().size() == 2; }, 50s));
  CHECK((*h)->counters().taken_over >= 1);
  node.signal(SIGCONT);
  (*h)->stop();
}
