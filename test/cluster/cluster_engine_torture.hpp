// SPDX-License-Identifier: Apache-2.0
#pragma once

// perdure-cluster-engine-torture's verdict on a run (the driver is
// cluster_engine_torture_main.cpp): every workflow's output against every
// step execution its effects file recorded.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace perdure::test {

/// As perdure-cluster-engine-node's chains.
inline constexpr int engine_torture_steps = 4;

/// A run's options (perdure-cluster-engine-torture's command line).
struct engine_torture_config {
  int nodes = 3;
  int kills = 6;
  int pauses = 2;
  int quits = 0; ///< clean stops (engine_host::stop), then restarts
  int workflows = 600;
  std::uint64_t seed = 1;
  int session_ms = 3000;
  int partitions = 4;
  int broker_stops = 0; ///< a broker down while steps run, then up again
  int leader_moves = 0; ///< a partition's leader moved to another broker
  bool grow = false;    ///< a node added half-way through the faults
  int actors = 16;      ///< tally actors called each round (0: none)
  /// Kafka records produced to the input topic, which every node feeds
  /// into 8 tally actors (cluster_engine_torture_feed.hpp; 0: no feed).
  int records = 0;
  /// node_options::standby_replicas of every node (-1: every node tails
  /// every partition, the default).
  int standbys = -1;
};

/// What a run did and found (printed by report_engine_torture).
struct engine_torture_summary {
  std::size_t nodes = 0; ///< at the end
  int kills = 0;
  int pauses = 0;
  int quits = 0;
  int broker_stops = 0;
  int leader_moves = 0;
  // Workflows started through random nodes, and the starts that failed.
  std::size_t forward_started = 0;
  std::size_t forward_start_errors = 0;
  // Ids answered through random nodes, and those not finished yet then.
  std::size_t forward_answered = 0;
  std::size_t forward_errors = 0;
  // Actor calls: rounds, calls sent, tried again, error answers.
  int actor_rounds = 0;
  std::size_t actor_calls = 0;
  std::size_t actor_retries = 0;
  std::size_t actor_errors = 0;
  // Kafka records produced (each applied once, checked at the end).
  std::size_t feed_records = 0;
  std::size_t executions = 0;
  std::size_t reruns = 0;
  std::size_t zombie_runs = 0;
  double seconds = 0;
  std::vector<std::string> violations;
};

/// The lines of the file at `path` (0 when there is none).
std::size_t count_lines(const std::filesystem::path& path);

/// Prints the summary and "result: OK" or "result: FAILED"; 0 when OK.
int report_engine_torture(const engine_torture_config& c,
                          const engine_torture_summary& s);

/// Reads "--nodes N --kills K ..." (every option takes a number); throws
/// std::invalid_argument for an unknown option or a value out of range.
engine_torture_config parse_engine_torture(int argc, char** argv);

/// What verify_effects found.
struct effects_verdict {
  std::size_t executions = 0;  ///< step executions in the effects file
  std::size_t reruns = 0;      ///< before the one each step's log kept
  std::size_t zombie_runs = 0; ///< after it, under an older epoch (fenced)
  std::vector<std::string> violations;
};

/// Checks workflows w-0 .. w-(workflows - 1): each has one output (in
/// `outputs`, by id) naming the execution of each step its log kept
/// ("|EXEC1|EXEC2|..."); that execution ran (a line "X WF K EXEC EPOCH" of
/// `effects`) under an epoch (not on an engine its host had let go), no
/// lower than any execution of the step before it, and none ran after it
/// under that epoch or a newer one. Each id also has an output read
/// through a random node (`forwarded`, by id), and every such output is
/// its owner's.
effects_verdict
verify_effects(const std::filesystem::path& effects, int workflows,
               const std::map<std::string, std::set<std::string>>& outputs,
               const std::map<std::string, std::set<std::string>>& forwarded);

} // namespace perdure::test
