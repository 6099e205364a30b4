// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the in-process cluster benchmarks share (cluster-feed,
// cluster-children): one engine_host on librdkafka's in-process mock, and
// a bounded wait for a condition.

#include "perdure/cluster/engine_host.hpp"

#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <stdexcept>
#include <string>
#include <thread>

namespace perdure::bench {

/// One node "bench" of application `app` on the brokers `bootstrap`,
/// its stores under `dir`, quiet, with the tests' 3 s session.
inline cluster::engine_host_options
in_process_host(const std::string& bootstrap, const std::filesystem::path& dir,
                const std::string& app) {
  cluster::engine_host_options ho;
  ho.node.log = {.brokers = bootstrap,
                 .app = app,
                 .properties = {{"fetch.wait.max.ms", "1"}},
                 .log = [](eventlog::log_level, std::string_view) {}};
  ho.node.node_id = "bench";
  ho.node.topic_configs_wait = {}; // the mock answers no DescribeConfigs
  ho.node.store.dir = dir;
  ho.node.group_properties = {{"session.timeout.ms", "3000"},
                              {"heartbeat.interval.ms", "1000"}};
  return ho;
}

/// Polls `done` every millisecond; throws naming `what` after 300 s.
template <class Done> void wait_for(Done done, const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{300};
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error{fmt::format("{} in 300 s", what)};
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
}

} // namespace perdure::bench
