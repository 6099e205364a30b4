// SPDX-License-Identifier: Apache-2.0
#pragma once

// The state machine of one workflow, free of CAF: the graph of step calls
// (static and dynamic), what each event (a step result, a cancel, a stop)
// writes to the log and which steps it starts once that write is durable.
// Rebuilt from the log on resume. Not thread-safe: its owner serializes.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/runtime/detail/step_impl.hpp"
#include "perdure/runtime/graph.hpp"
#include "perdure/runtime/metadata.hpp"

#include "perdure/eventlog/records/workflow.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace perdure::detail {

/// A node argument with producers named by node index.
struct arg_rt {
  arg::kind what = arg::kind::value;
  std::string bytes; ///< value: encoded literal; blob: key
  std::uint32_t node = 0;
  std::vector<arg_rt> items;
};

struct node_rt {
  std::string id;
  std::string base;
  std::string step_name;
  std::string signature;
  std::shared_ptr<const step_def> def; ///< null when not registered
  effective_step_options opts;
  metadata_map user_meta;
  std::vector<arg_rt> args;
  std::vector<std::uint32_t> inputs;    ///< distinct producers
  std::vector<std::uint32_t> consumers; ///< distinct consumers
  std::int32_t owner = -1;          ///< node whose sub-graph holds this one
  std::int32_t continued_to = -1;   ///< root of the sub-graph it returned
  std::int32_t continued_from = -1; ///< parent taking this node's output
  step_state state = step_state::pending;
  bool dead = false;  ///< output no longer needed (a catching owner resolved)
  int waiting = 0;    ///< inputs not yet succeeded
  int attempt = 0;    ///< attempt of the current run
  std::shared_ptr<const std::string> output;
  std::vector<attempt_stats> attempts;
  std::optional<time_ns> end;
  std::string error_text;
  std::optional<time_ns> due; ///< event nodes: the logged deadline
  bool is_event() const noexcept {
    return def && !def->source_name.empty();
  }
  /// A race (first_of, with_timeout): resolved by its first input.
  bool is_race() const noexcept {
    return def && def->pick != nullptr;
  }
};

class workflow_run;

/// A step attempt to start once the plan's batch is durable.
struct dispatch {
  std::uint32_t node = 0;
  int attempt = 1;
  std::chrono::milliseconds delay{0};
};

/// What an event leads to: one atomic batch, then the steps to start.
struct plan {
  eventlog::write_batch batch;
  std::vector<dispatch> dispatches;
  bool ends = false;  ///< the batch holds the terminal record
  /// Event nodes whose event this batch makes durable (or, on resume, made
  /// durable before): their sources hear `checkpointed` after the commit.
  std::vector<std::uint32_t> checkpointed;
  /// Nodes canceled by a race: their armed event waits are dropped.
  std::vector<std::uint32_t> dropped;
  /// Signals this batch stores and consumes (signal_source.hpp): told how
  /// its commit ended.
  std::vector<std::shared_ptr<direct_event>> directs;
  /// Set when node `continuing` returned continue_as_new: the workflow's
  /// next run. The batch is not complete: once every earlier batch is
  /// durable, the owner reads the run's records and calls continue_into.
  std::shared_ptr<workflow_run> next;
  std::uint32_t continuing = 0;
};

enum class run_end { none, succeeded, failed, canceled, stopped };

class workflow_run {
 public:
  /// A new workflow from the graph rooted at `root`. Fails
  /// `invalid_argument` for steps the capacity can never run, or for an
  /// unregistered step.
  /// `run` is the run number its submission records (continue-as-new).
  static result<std::unique_ptr<workflow_run>> create(
    std::string id, const std::shared_ptr<node>& root, metadata_map meta,
    const resources& capacity, std::uint32_t run = 1);

  /// Rebuilds a workflow from its records.
  static result<std::unique_ptr<workflow_run>> replay(
    std::string id, const std::vector<eventlog::record>& records,
    const resources& capacity);

  /// Ok when every step still to run is registered with its logged
  /// signature; else `type_mismatch` naming the step.
  status check_code() const;

  /// The first batch of a new run (submission) or of a resume.
  void begin(plan& p);

  /// A step attempt returned `out`; `blobs` were put by its body, which
  /// began at `body_start` (0: unknown; the attempt keeps its scheduled
  /// start).
  void on_result(std::uint32_t node, int attempt, outcome out,
                 std::vector<std::string> blobs, plan& p,
                 time_ns body_start = 0);

  /// The attempt's body ran for its step timeout (or, `heartbeat`, that
  /// long without a heartbeat): it failed (retried as any failure).
  void on_timeout(std::uint32_t node, int attempt, bool heartbeat, plan& p);

  /// An event node's deadline was computed: log it with a timer entry.
  void set_due(std::uint32_t node, time_ns due, plan& p);

  /// An event arrived for `node`: as on_result, plus `offsets` committed in
  /// the same batch. Returns false (writing nothing) for a stale event.
  bool on_event(std::uint32_t node, int attempt, outcome out,
                const std::vector<std::pair<std::string, std::int64_t>>&
                  offsets,
                plan& p);

  /// Completes `p`, whose `next` is set (workflow_continue.cpp): this
  /// run's records `durable` (all of its stream, read once every earlier
  /// batch was durable) are archived as stream runs/ID/N (unless `keep` is
  /// 0) after the archived runs `stale` are removed, its timers go,
  /// `next` begins in the same batch and the stream drops the old records.
  /// The caller then replaces this run with `*p.next`.
  void continue_into(plan& p, const std::vector<eventlog::record>& durable,
                     const std::vector<std::uint32_t>& stale,
                     std::size_t keep);

  /// Cancel (no new step, canceled record) or stop (engine shutdown).
  void on_cancel(plan& p);
  void on_stop();

  /// Another writer (`perdure cancel` in another process) logged the
  /// cancel: end as canceled without writing anything. False when the run
  /// had ended already.
  bool on_external_cancel();

  /// The stream's last seq once every batch planned so far is durable;
  /// each batch the owner submits expects it and then advances it by the
  /// batch's records, so a record written by someone else in between turns
  /// the next batch into a `conflict` (see the workflow actor).
  eventlog::seq_t last_seq() const noexcept {
    return logged_;
  }
  void advance(std::size_t records) noexcept {
    logged_ += records;
  }

  /// The inputs of a step attempt, resolved from outputs and literals;
  /// blob arguments are read through `blobs`.
  result<std::vector<input>> inputs_of(std::uint32_t node,
                                       blob_source& blobs) const;

  const std::string& id() const noexcept {
    return id_;
  }
  const node_rt& at(std::uint32_t i) const {
    return nodes_[i];
  }
  std::optional<std::uint32_t> find(std::string_view step_id) const;
  std::uint32_t root() const noexcept {
    return root_;
  }
  run_end end() const noexcept {
    return end_;
  }
  /// The error of a failed or canceled run.
  const status& end_status() const noexcept {
    return end_status_;
  }
  /// The stored status text of the log ("running", "failed", ...).
  std::string stored_status() const;
  bool started() const noexcept {
    return started_;
  }
  /// The run number: 1, plus one per continue-as-new.
  std::uint32_t run_number() const noexcept {
    return run_no_;
  }

  workflow_metadata metadata(workflow_status st) const;
  result<step_metadata> step_meta(std::string_view step_id) const;

  /// The clock of the run's and its attempts' times (wall clock, ns since
  /// the epoch); eventlog::now_ns unless a test sets a fake one.
  void set_clock(std::function<time_ns()> now) {
    now_ = std::move(now);
  }

 private:
  workflow_run() = default;

  result<std::vector<records::node_rec>> add_graph(
    const std::shared_ptr<node>& root, std::int32_t owner);
  status add_records(const std::vector<records::node_rec>& recs,
                     std::int32_t owner);
  void link(std::uint32_t i);
  std::string next_id(const std::string& base);
  void start(std::uint32_t i, int attempt, std::chrono::milliseconds delay,
             plan& p);
  void succeed(std::uint32_t i, std::string bytes, plan& p);
  void fail(std::uint32_t i, const std::string& type, const std::string& text,
            plan& p);
  void prepare_resume();
  // Continue-as-new (workflow_continue.cpp): checks `graph` and sets
  // p.next; fails for a graph that cannot be the workflow's next run.
  status begin_continue(std::uint32_t i, const std::shared_ptr<node>& graph,
                        plan& p);
  void drop_timers(plan& p);
  // Races (workflow_race.cpp).
  void resolve_race(std::uint32_t race, std::uint32_t winner, plan& p);
  void prune_losers(std::uint32_t race, plan* p);
  void resume_races(plan& p);

  std::string id_;
  resources capacity_;
  std::vector<node_rt> nodes_;
  std::uint32_t root_ = 0;
  std::unordered_map<std::string, std::uint32_t> by_id_;
  std::unordered_map<std::string, int> counters_;
  metadata_map meta_;
  std::string submission_; ///< the encoded workflow_submitted of a new run
  bool fresh_ = true;     ///< not yet submitted (begin writes submission)
  bool started_ = false;
  bool stopping_ = false;
  run_end end_ = run_end::none;
  status end_status_;
  int runs_ = 0;
  std::uint32_t run_no_ = 1; ///< continue-as-new run number
  std::optional<time_ns> start_;
  std::optional<time_ns> finish_;
  std::string error_text_;
  eventlog::seq_t logged_ = 0;
  std::function<time_ns()> now_ = eventlog::now_ns;
};

/// The FNV-1a 64 hash of a signature, as 16 hex digits.
std::string signature_hash(std::string_view signature);

} // namespace perdure::detail
