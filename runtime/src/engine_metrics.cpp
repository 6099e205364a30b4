// SPDX-License-Identifier: Apache-2.0
// The engine's own metrics: names, help texts, and the callbacks that read
// workflow statuses and log totals when /metrics is scraped.

#include "engine_metrics.hpp"

#include <algorithm>
#include <string>

namespace perdure::detail {

engine_metrics engine_metrics::create(metrics::registry& reg) {
  engine_metrics m;
  m.steps_started = &reg.get_counter(
    "perdure_steps_started_total", "Step attempts whose body started.");
  m.steps_succeeded = &reg.get_counter(
    "perdure_steps_succeeded_total",
    "Step attempts whose body returned a value or a sub-workflow.");
  m.steps_failed = &reg.get_counter("perdure_steps_failed_total",
                                    "Step attempts whose body threw.");
  m.step_seconds = &reg.get_histogram(
    "perdure_step_duration_seconds", "Run time of step bodies (one attempt).",
    metrics::latency_buckets());
  m.commit_seconds = &reg.get_histogram(
    "perdure_workflow_commit_seconds",
    "Time from submitting a workflow's write batch to the log until it is "
    "durable (group commit included).",
    metrics::latency_buckets());
  m.batch_records = &reg.get_histogram(
    "perdure_log_batch_records", "Records appended per committed write batch.",
    {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
  m.external_cancels = &reg.get_counter(
    "perdure_workflows_canceled_externally_total",
    "Live workflows stopped because another process (perdure cancel) "
    "canceled them.");
  m.runs_continued = &reg.get_counter(
    "perdure_workflow_runs_continued_total",
    "Workflow runs ended by continue-as-new: the batch that archives the "
    "run and starts the next one under the same id was submitted.");
  return m;
}

void engine_metrics::add_callbacks(
  metrics::registry& reg, std::weak_ptr<eventlog::event_log> log_ref,
  std::function<std::vector<std::string>()> live) {
  reg.add_callback(
    "perdure_workflows", "Workflows by status (stored and live).",
    metrics::kind::gauge, [log_ref, live] {
      std::vector<metrics::sample> out;
      auto log = log_ref.lock();
      if (!log)
        return out;
      auto ids = live();
      std::sort(ids.begin(), ids.end());
      // A workflow live here is stored as "running"; stored "running" ones
      // no engine runs are resumable (as engine::list reports them).
      double running = static_cast<double>(ids.size());
      double resumable = 0;
      auto count = [&](const char* text) -> double {
        auto entries = log->list_by_status(text);
        if (!entries)
          return 0;
        double n = 0;
        for (auto& e : *entries) {
          if (e.kind != eventlog::stream_kind::workflow)
            continue;
          if (std::string_view{text} == "running"
              && std::binary_search(ids.begin(), ids.end(), e.id))
            continue;
          ++n;
        }
        return n;
      };
      resumable = count("running");
      out.push_back({{{"status", "running"}}, running});
      out.push_back({{{"status", "resumable"}}, resumable});
      for (auto text : {"failed", "canceled", "successful"})
        out.push_back({{{"status", text}}, count(text)});
      return out;
    });
  auto stat = [log_ref](auto field) {
    return [log_ref, field] {
      std::vector<metrics::sample> out;
      if (auto log = log_ref.lock())
        out.push_back({{}, field(log->stats())});
      return out;
    };
  };
  reg.add_callback("perdure_log_commits_total",
                   "LMDB write transactions (group commits) of the log.",
                   metrics::kind::counter,
                   stat([](const eventlog::log_stats& s) {
                     return static_cast<double>(s.commits);
                   }));
  reg.add_callback("perdure_log_batches_total",
                   "Write batches committed; divided by commits, the mean "
                   "group-commit size.",
                   metrics::kind::counter,
                   stat([](const eventlog::log_stats& s) {
                     return static_cast<double>(s.batches);
                   }));
  reg.add_callback("perdure_log_records_total", "Records appended to the log.",
                   metrics::kind::counter,
                   stat([](const eventlog::log_stats& s) {
                     return static_cast<double>(s.records);
                   }));
  reg.add_callback("perdure_log_commit_seconds_total",
                   "Time spent inside group commits (write and sync).",
                   metrics::kind::counter,
                   stat([](const eventlog::log_stats& s) {
                     return static_cast<double>(s.commit_ns_total) / 1e9;
                   }));
}

} // namespace perdure::detail
