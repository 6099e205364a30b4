// SPDX-License-Identifier: Apache-2.0
#pragma once

// Metadata of workflows and steps, as returned by `engine::metadata`: from
// memory while the workflow is live, rebuilt from its log otherwise.

#include "perdure/runtime/options.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace perdure {

/// Wall-clock time in nanoseconds since the Unix epoch.
using time_ns = std::int64_t;

/// One attempt of a step.
struct attempt_stats {
  int attempt = 0;               ///< 1-based, restarting at 1 on each resume
  time_ns start = 0;
  std::optional<time_ns> end = {}; ///< unset while running or when abandoned
  std::string error_type = {};   ///< empty when the attempt succeeded
  std::string error_text = {};
};

/// The effective options of a step, after defaults and per-call overrides.
struct effective_step_options {
  std::string step_name = {}; ///< the registered name (how code is found)
  int max_attempts = 3;
  std::chrono::milliseconds retry_backoff = {};
  std::chrono::milliseconds retry_backoff_max = {}; ///< 0: no cap
  double retry_jitter = 0;
  std::chrono::milliseconds timeout = {}; ///< per attempt; 0: none
  std::chrono::milliseconds heartbeat_timeout = {}; ///< 0: none
  double cpus = 1;
  double gpus = 0;
  std::map<std::string, double> custom = {};
  bool catching = false;
  /// Runs on its workflow's thread, not in the step pool (cpus, gpus and
  /// custom are then 0 and empty: it takes no pool resources).
  bool local = false;
};

/// The state of one step in a workflow.
enum class step_state {
  pending,   ///< waiting for its inputs
  running,   ///< an attempt is running or scheduled
  continued, ///< returned a sub-graph whose output it waits for
  succeeded, ///< output stored
  failed,    ///< all attempts failed
};

/// "pending", "running", "continued", "succeeded" or "failed".
std::string_view to_string(step_state s) noexcept;

/// Metadata of one step.
struct step_metadata {
  std::string id = {};       ///< unique in the workflow: `name`, `name_1`...
  effective_step_options options = {};
  metadata_map user_metadata = {};
  step_state state = step_state::pending;
  std::vector<attempt_stats> attempts = {}; ///< across all runs, in order
  std::optional<time_ns> start = {};  ///< first attempt's start
  std::optional<time_ns> end = {};    ///< when the output was stored
  std::string error_text = {};        ///< last error, if any
};

/// Metadata of one workflow.
struct workflow_metadata {
  std::string id = {};
  workflow_status status = workflow_status::running;
  metadata_map user_metadata = {};
  /// Start of the latest run (submission or resume).
  std::optional<time_ns> start = {};
  /// End of the latest run; unset while running, and after a cancel.
  std::optional<time_ns> end = {};
  /// Executions of the current run: 1 for the first, plus one per resume.
  int runs = 0;
  /// The run number: 1, plus one per continue-as-new (perdure::
  /// continue_as_new); earlier runs are kept as streams runs/ID/N.
  int run_number = 1;
  /// Step attempts across all runs.
  int attempts = 0;
  std::size_t steps = 0;           ///< steps known so far (static + dynamic)
  std::size_t steps_succeeded = 0;
  std::string error_text = {};     ///< the failure, when failed
};

} // namespace perdure
