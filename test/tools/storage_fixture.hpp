// SPDX-License-Identifier: Apache-2.0
#pragma once

// Storage for the CLI tests, written through the real event log with the
// runtime's record kinds and payload structs (perdure/eventlog/records), so
// the CLI is tested against the bytes an engine writes.

#include "perdure/eventlog/event_log.hpp"

#include <filesystem>
#include <memory>

namespace perdure::test {

/// Opens `dir` for writing (process durability, exclusive).
std::unique_ptr<eventlog::event_log> open_log(const std::filesystem::path& dir);

/// Writes these streams into `log`:
/// - "sum_example" (workflow, successful): get_value1() = 100,
///   get_value2(10) = 100, sum(get_value1, get_value2, 100) = 300;
/// - "flaky" (workflow, failed): step "flaky" fails attempts 1 and 2 of 2
///   with std::runtime_error "boom";
/// - "pending_job" (workflow, running): step "slow" started, not finished;
/// - "dyn" (workflow, successful): step "outer" continues into a sub-graph
///   inner_a() = 20 -> inner_b(inner_a) = 42, the workflow's output;
/// - "counter_1" (actor): actor_created, then two actor_called records.
void write_fixture(eventlog::event_log& log);

/// Appends one more step record to the running workflow "pending_job"
/// (step "slow" succeeded with output 7).
void finish_pending_step(eventlog::event_log& log);

/// Ends "pending_job": workflow_succeeded, status successful.
void end_pending_job(eventlog::event_log& log);

} // namespace perdure::test
