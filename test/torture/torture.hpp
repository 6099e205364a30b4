// SPDX-License-Identifier: Apache-2.0
#pragma once

// perdure-torture: a mixed workload (workflows with retries, dynamic steps,
// timers and actor calls; Kafka records delivered to actors) in a child
// process killed with SIGKILL at random points and restarted on the same
// storage. Shared between the workload (torture_workload.cpp, which runs in
// the child and reads the final actor states) and the driver
// (torture_main.cpp, the parent that kills, checks and reports).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace perdure::torture {

constexpr int partitions = 4;   ///< of the Kafka topic
constexpr int accounts = 13;    ///< actors the workflows deposit to
constexpr int kafka_keys = 31;  ///< actors the Kafka records go to
constexpr const char* topic = "torture";

/// The id of workflow `i`.
std::string wf_id(int i);

/// The output workflow `i` must end with.
long long expected_output(int i);

/// The step bodies workflow `i` completes (static and dynamic steps; the
/// timer is an event, not a body).
std::size_t expected_bodies(int i);

/// The amount workflow `i` deposits to account `i % accounts`.
long long deposit_of(int i);

/// The key, partition and value of Kafka record `j`.
std::string record_key(int j);
int record_partition(int j);
long long record_value(int j);

/// The argument list of one child life (see the "torture_life" entry).
struct life_args {
  std::string storage;   ///< the engine's storage directory
  std::string effects;   ///< the side-effect file of the step bodies
  std::string brokers;   ///< the mock cluster's bootstrap servers
  int workflows = 0;     ///< workflows released so far (ids 0..n-1)
  int records = 0;       ///< records produced so far
  int life = 0;          ///< the life's number, written with each effect
  bool last = false;     ///< finish, print "done" and exit normally
};
std::vector<std::string> to_args(const life_args& a);

/// Problems found at the end, as text; empty when all is well.
struct final_check {
  std::vector<std::string> violations;
  std::size_t actor_calls = 0; ///< calls applied to all accounts
};

/// Opens an engine on `storage` and checks every workflow's status and
/// output, every account's state, the stored offsets and the dead letters.
final_check check_final(const std::string& storage, int workflows,
                        int records, const std::string& brokers);

} // namespace perdure::torture
