// SPDX-License-Identifier: Apache-2.0
// A paused owner (SIGSTOP: its process and sockets stay) is taken over once
// its door answers no ping for suspect_after, long before the consumer
// group's session timeout would let the group move its partitions. A
// perdure-cluster-engine-node process beside an in-process engine_host, on
// the 3-broker mock; with plain doors, and with mutual TLS (the pings go
// through CAF's openssl module).

#include <doctest/doctest.h>

#include "perdure/cluster/engine_host.hpp"

#include "node_test_util.hpp"
#include "subprocess.hpp"
#include "temp_dir.hpp"
#ifdef PERDURE_OPENSSL
#include "test_ca.hpp"
#endif

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

namespace {

// The node process pauses (SIGSTOP) while it owns a partition; the host
// takes it over by its door's pings. `tls`: both doors use these
// certificates (the node's and the host's).
void paused_owner_taken_over(temp_dir& dir, const cluster::door_tls& node_tls,
                             const cluster::door_tls& host_tls) {
  // 60 s: the group cannot move anything within this test's waits.
  const std::string session = "60000";
  auto mock = start_mock("suspect", 2);
  std::vector<std::string> argv{
    PERDURE_CLUSTER_ENGINE_NODE, "--brokers", mock->bootstrap(), "--app",
    "suspect", "--id", "n1", "--dir", (dir / "n1").string(), "--effects",
    (dir / "effects").string(), "--session-timeout-ms", session,
    "--heartbeat-ms", "1000"};
  if (node_tls.enabled())
    argv.insert(argv.end(), {"--tls-cert", node_tls.certificate, "--tls-key",
                             node_tls.key, "--tls-ca", node_tls.ca_file});
  subprocess node{argv, subprocess_options{.pipe_stdin = true}};
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
  o.tls = host_tls;

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

} // namespace

TEST_CASE("a paused owner is taken over once its door answers no ping, "
          "before its session times out") {
  temp_dir dir;
  paused_owner_taken_over(dir, {}, {});
}

#ifdef PERDURE_OPENSSL
TEST_CASE("with mutual TLS on the doors, a paused owner is taken over by "
          "its door's pings all the same") {
  temp_dir dir;
  test_ca ca{dir.path(), "cluster"};
  paused_owner_taken_over(dir, ca.issue("n1"), ca.issue("h"));
}
#endif
