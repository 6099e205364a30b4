// SPDX-License-Identifier: Apache-2.0
#pragma once

// A workflow rebuilt from its records without the application's code: its
// steps with status, attempts and timings, the graph's edges and the
// outputs. Used by show, output, graph and replay.

#include "perdure/eventlog/types.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace perdure::tools {

/// One step (graph node) of a workflow as the log tells it.
struct step_view {
  std::uint32_t index = 0;
  std::string id;      ///< unique in the workflow, e.g. "fib_3"
  std::string step;    ///< the registered step name
  std::string status = "pending"; ///< pending running retrying continued
                                  ///< succeeded failed canceled
  int attempts = 0;
  int max_attempts = 0;
  bool local = false; ///< a local step (runs on its workflow's thread)
  eventlog::time_ns start = 0; ///< first attempt's start
  eventlog::time_ns end = 0;   ///< success, final failure or continuation
  std::vector<std::uint32_t> inputs; ///< nodes whose outputs it takes
  std::int32_t owner = -1;           ///< the step whose sub-graph holds it
  std::int32_t continued_to = -1;    ///< the root of its sub-graph
  std::optional<std::string> output; ///< the output FlexBuffer, once succeeded
  std::string error;                 ///< "type: text" of the last failure
  int error_attempt = 0;             ///< the attempt that failed so
  std::map<std::string, std::string> metadata;
  std::int64_t due = 0; ///< a durable timer's due time (ns), once set
};

/// A workflow at some point of its log.
struct workflow_view {
  bool submitted = false;
  std::uint32_t root = 0;
  std::string status = "running"; ///< from the records: running successful
                                  ///< failed canceled
  std::map<std::string, std::string> metadata;
  eventlog::time_ns start = 0;
  eventlog::time_ns end = 0;
  int runs = 0;         ///< 1 + the number of resumes
  std::uint32_t run_number = 1; ///< 1 + the number of continue-as-new
  std::string error;    ///< why it failed
  eventlog::seq_t last_seq = 0;
  std::vector<step_view> steps; ///< by node index
  std::vector<std::string> problems; ///< records that did not decode

  /// The workflow's output FlexBuffer (the root step's), once it succeeded.
  const std::optional<std::string>* output() const;

  /// The step whose id is `id`, or nullptr.
  const step_view* find(std::string_view id) const;
};

/// Folds records into a view, one at a time, in seq order.
class workflow_builder {
 public:
  /// Applies one record; records of kinds it does not know are counted only.
  void apply(eventlog::seq_t seq, std::uint16_t kind, eventlog::time_ns time,
             std::string_view payload);

  const workflow_view& view() const noexcept {
    return view_;
  }

 private:
  step_view& node(std::uint32_t index);
  workflow_view view_;
};

/// `v` as `perdure show --json` prints it (tools/README.md); times in
/// UTC when `utc`, else local.
nlohmann::json workflow_json(const workflow_view& v, bool utc);

} // namespace perdure::tools
