// SPDX-License-Identifier: Apache-2.0
#pragma once

// Two engine_hosts on the 3-broker mock, two partitions, one led by each,
// each knowing the other's door: the set-up of the tests of what crosses
// partitions (child workflows, actor calls).

#include "node_test_util.hpp"
#include "partition_ids.hpp"
#include "perdure/cluster/engine_host.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace perdure::test {

/// The options of host `id` (storage under `dir`) on `mock`.
using host_options_fn = std::function<cluster::engine_host_options(
    const kafka_mock_process& mock, const std::filesystem::path& dir,
    const std::string& id)>;

/// The options of host `id` of app `app` serving actors `served` (e.g.
/// served_actors<...>()): a door on loopback, one actor thread, a stop
/// that abandons a method after 200 ms, and a forward_deadline of 3 min,
/// which a failover case (a call tried again through a stop, a claim and
/// a gate's opening) reaches on no loaded machine.
inline cluster::engine_host_options
actor_host_options(const kafka_mock_process& mock, const std::string& app,
                   const std::filesystem::path& dir, const std::string& id,
                   cluster::actor_call_handler served) {
  cluster::engine_host_options o;
  o.node = node_options_for(mock, app, dir, id);
  o.engine.actor_threads = 1;
  o.engine.stop_timeout = std::chrono::milliseconds{200};
  o.serve_address = "127.0.0.1:0";
  o.forward_deadline = std::chrono::minutes{3};
  o.actor_calls = std::move(served);
  return o;
}

/// Hosts a and b lead one partition each (pa, pb) and know each other's
/// door. Members go in reverse: the hosts before the dir and the mock.
struct two_partitions {
  std::unique_ptr<kafka_mock_process> mock;
  temp_dir dir;
  std::unique_ptr<cluster::engine_host> a, b;
  cluster::partition_id pa = 0, pb = 1;

  two_partitions(const std::string& app, const host_options_fn& options)
      : mock(start_mock(app, 2)) {
    a = started(options(*mock, dir / "a", "a"));
    b = started(options(*mock, dir / "b", "b"));
    REQUIRE(wait_until(
        [&] {
          auto ra = a->running(), rb = b->running();
          return ra.size() == 1 && rb.size() == 1 && ra[0] != rb[0];
        },
        std::chrono::seconds{90}));
    pa = a->running().at(0);
    pb = b->running().at(0);
    REQUIRE(wait_until([&] { return knows(*a, *b, pb) && knows(*b, *a, pa); },
                       std::chrono::seconds{60}));
  }

 private:
  static std::unique_ptr<cluster::engine_host>
  started(cluster::engine_host_options o) {
    auto h = cluster::engine_host::start(std::move(o));
    REQUIRE_MESSAGE(h, h.error().to_string());
    return std::move(*h);
  }
};

} // namespace perdure::test
