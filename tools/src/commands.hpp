// SPDX-License-Identifier: Apache-2.0
#pragma once

// The CLI's commands. Each takes the shared context and its own options,
// prints its result (human or --json) and returns the exit code.

#include "storage.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace perdure::tools {

/// What `perdure list` and the UI's /api/list ask for: filters as `list`
/// takes them, an id prefix and a cursor.
struct list_args {
  std::vector<std::string> statuses; ///< shown statuses; none: all
  std::optional<std::string> kind;
  std::string prefix; ///< only ids that start with it
  std::string after;  ///< only ids after it (the previous page's `next`)
  std::size_t limit = SIZE_MAX;
  /// At most this many directory or status-index entries read per page
  /// (at least 1): a rare kind, or a status with a prefix, then gives a
  /// short page whose `next` continues after the last entry read.
  std::size_t budget = SIZE_MAX;
};
/// `list`: streams with status, kind, records and times.
int cmd_list(const context& ctx, const list_args& a);

struct list_page_result {
  std::vector<eventlog::stream_info> items; ///< in id order
  std::optional<std::string> next; ///< the `after` of the next page
};
/// One page of streams in id order, read with keyed seeks (the directory
/// from the prefix or cursor, the status index per status), so a page
/// costs the same with a million other streams. An unknown kind or status
/// is `invalid_argument` naming it.
result<list_page_result> list_page(const eventlog::event_log& log,
                                   const list_args& a, bool engine_live);

/// `stats`: streams by kind and status, records, map size and usage.
int cmd_stats(const context& ctx);

/// `show ID`: directory entry, metadata, steps (workflows) or record kinds.
int cmd_show(const context& ctx, const std::string& id);

struct output_args {
  std::string id;
  std::optional<std::string> step;
};
/// `output ID [--step NAME]`: the workflow's or one step's output as JSON.
int cmd_output(const context& ctx, const output_args& a);

struct replay_args {
  std::string id;
  std::optional<std::uint64_t> until;
  std::optional<std::string> as_of;
};
/// `replay ID --until SEQ | --as-of TIME`: a workflow's steps or an actor's
/// state at that point.
int cmd_replay(const context& ctx, const replay_args& a);

struct diff_args {
  std::string id;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
};
/// `diff ID A B`: how an actor's state changed between seq A and seq B.
int cmd_diff(const context& ctx, const diff_args& a);

struct fork_args {
  std::string id;
  std::uint64_t at = 0;
  std::string as;
};
/// `fork ACTOR_ID --at SEQ --as NEW_ID`: a new actor whose history is the
/// first SEQ records of ACTOR_ID (safe beside a running engine).
int cmd_fork(const context& ctx, const fork_args& a);

struct history_args {
  std::string id;
  bool follow = false;
  double follow_timeout = 0; ///< seconds; 0 means until SIGINT
  std::uint64_t from = 1;
  /// A kept earlier run (continue-as-new) instead of the live one.
  std::optional<std::uint32_t> run;
};
/// `history ID`: every record with time, kind, writer and payload; with
/// `--run N`, those of run N (the live one, or a kept earlier one).
int cmd_history(const context& ctx, const history_args& a);

/// `projection status`: each stored projection's source, mode, position,
/// the source feed's head and the lag between them.
int cmd_projection_status(const context& ctx);

/// `projection reset NAME`: forgets the projection's position and drops its
/// rows (it rebuilds when it runs next); refused while an engine holds the
/// storage.
int cmd_projection_reset(const context& ctx, const std::string& name);

/// `schedule list`: each stored schedule's spec, catch-up, state, last tick.
int cmd_schedule_list(const context& ctx);

/// `schedule pause|resume|delete NAME` (`what`), beside a running engine.
int cmd_schedule_change(const context& ctx, const std::string& what,
                        const std::string& name);

/// `export ID --json`: the directory entry and every record as one document.
int cmd_export(const context& ctx, const std::string& id);

/// `verify`: checks every record and index; exit 3 on damage.
int cmd_verify(const context& ctx, bool progress);

/// `recover [--dry-run]`: prints what settling the journal does (the plan
/// of eventlog::plan_recovery) and, without --dry-run, does it by opening
/// the storage as its owner. Exit 3 when the plan refuses, 5 when an engine
/// has the storage open.
int cmd_recover(const context& ctx, bool dry_run);

struct signal_args {
  std::string id;
  std::string name;
  std::string json_value;
};
/// `signal ID NAME JSON`: stores a signal for the workflow's
/// wait_for_signal nodes (beside a running engine, which finds it within
/// its external_cancel_check).
int cmd_signal(const context& ctx, const signal_args& a);

/// JSON to a self-describing payload as the codec writes it (objects:
/// maps, arrays: vectors, {"$bytes": base64}: a blob); none, with `why`
/// set, for text that is not JSON.
std::optional<std::string> value_of_json(const std::string& text,
                                         std::string& why);

struct promise_args {
  bool complete = true; ///< false: reject
  std::string id;       ///< NAME@WORKFLOW
  std::string text;     ///< complete: the JSON value; reject: the reason
};
/// `promise complete ID JSON` / `promise reject ID MESSAGE`: settles a
/// durable promise once (beside a running engine or without one).
int cmd_promise(const context& ctx, const promise_args& a);

/// `cancel ID`: marks a workflow canceled beside a running engine.
int cmd_cancel(const context& ctx, const std::string& id);

/// `delete ID`: removes a stream that is not running.
int cmd_delete(const context& ctx, const std::string& id);

struct graph_args {
  std::string id;
  std::string format = "dot";
  std::optional<std::string> output_file;
};
/// `graph ID [--format dot|svg]`: the workflow graph with status and
/// durations; SVG through graphviz's `dot`.
int cmd_graph(const context& ctx, const graph_args& a);

} // namespace perdure::tools
