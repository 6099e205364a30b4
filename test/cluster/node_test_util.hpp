// SPDX-License-Identifier: Apache-2.0
#pragma once
// A cluster::node's options for tests on the mock.

#include "perdure/cluster/node.hpp"

#include "kafka_log_test_util.hpp"

#include <condition_variable>
#include <filesystem>
#include <mutex>
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

/// Where a test holds a step body mid-way: pass() returns at once while
/// the gate is open and waits while it is closed (set(true)) until it is
/// opened again.
class step_gate {
 public:
  void set(bool closed) {
    {
      std::lock_guard lock{mu_};
      closed_ = closed;
    }
    cv_.notify_all();
  }

  void pass() {
    std::unique_lock lock{mu_};
    cv_.wait(lock, [this] { return !closed_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
};

} // namespace perdure::test
