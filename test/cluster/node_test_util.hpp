// SPDX-License-Identifier: Apache-2.0
#pragma once
// A cluster::node's options for tests on the mock.

#include "perdure/cluster/node.hpp"

#include "kafka_log_test_util.hpp"

#include <filesystem>
#include <string>

namespace perdure::test {

/// Node `id` of application `app` on `mock`, its stores under `dir`.
inline cluster::node_options node_options_for(const kafka_mock_process& mock,
                                              const std::string& app,
                                              const std::filesystem::path& dir,
                                              const std::string& id) {
  cluster::node_options o;
  o.log = log_options(mock, app);
  o.node_id = id;
  o.store.dir = dir;
  o.topic_configs_wait = {}; // the mock answers no DescribeConfigs
  // Above 2 s: the mock holds a first join 3 s, checks sessions each
  // second (docs/cluster.md, "Failover on the mock").
  o.group_properties = {{"session.timeout.ms", "3000"},
                        {"heartbeat.interval.ms", "1000"}};
  return o;
}

} // namespace perdure::test
