// SPDX-License-Identifier: Apache-2.0
#pragma once

// Options of steps, runs and engines, and the workflow status vocabulary.
// Every member has an initializer so designated initializers may name only
// the members they set.

#include "perdure/eventlog/log_sink.hpp"
#include "perdure/eventlog/status.hpp"
#include "perdure/eventlog/types.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace perdure::eventlog {
class event_log;
} // namespace perdure::eventlog

namespace perdure {

class engine; // perdure/runtime/engine.hpp
class remote_workflows; // perdure/runtime/remote_workflows.hpp

/// User metadata: free key/value text, stored with the workflow or step.
using metadata_map = std::map<std::string, std::string>;

/// What a step needs while it runs, or what an engine has. Unset members of a
/// per-call value inherit the step's defaults (cpus 1, gpus 0).
struct resources {
  std::optional<double> cpus = {};
  std::optional<double> gpus = {};
  /// Named resources, e.g. {{"db", 1}}; absent names count as 0.
  std::map<std::string, double> custom = {};
};

/// Options of a step, given with `step(name, fn, options)` or per call with
/// `s.options({...})(args...)`. Per-call values override the step's; unset
/// members inherit.
struct step_options {
  /// The base of the step's id in the workflow; ids are made unique per
  /// workflow as `name`, `name_1`, `name_2`, ... Honoured both in the
  /// step's default options (`step("send", f, {.name = "notify"})` makes
  /// ids `notify`, `notify_1`, ...) and per call (which wins); empty in
  /// both: the registered name. Only the id changes: the log keeps the
  /// registered name beside it, and a resume finds the step's code by that
  /// registered name, so renaming an id's base never breaks a resume.
  std::string name = {};
  /// Total attempts before the step fails (default 3, at least 1).
  std::optional<int> max_attempts = {};
  /// Wait between attempts (default none); doubled after each failure.
  std::optional<std::chrono::milliseconds> retry_backoff = {};
  /// Cap of the doubled retry_backoff (default none; >= 0 when set): the
  /// wait before attempt n+1 is min(retry_backoff * 2^(n-1), this).
  std::optional<std::chrono::milliseconds> retry_backoff_max = {};
  /// Jitter of the retry wait, a fraction in [0, 1] (default 0): the capped
  /// wait is scaled by a factor in [1 - retry_jitter, 1], drawn per
  /// workflow, step and attempt (perdure/runtime/retry.hpp), so workflows
  /// failing together do not retry together. Logged with the graph.
  std::optional<double> retry_jitter = {};
  /// Start-to-close limit of each attempt (default none; > 0 when set),
  /// counted from when its body begins (after the backoff and the wait
  /// for resources). An attempt still running then fails with
  /// `perdure::timeout` and is retried like any failure; its token is set
  /// (this_step::canceled()) and a body that ignores it runs on, holding
  /// its resources, its late result dropped. Logged with the graph, so a
  /// resume keeps it. Event nodes ignore it (use with_timeout).
  std::optional<std::chrono::milliseconds> timeout = {};
  /// Heartbeat limit of each attempt (default none; > 0 when set): an
  /// attempt whose body has not called `this_step::heartbeat()` for this
  /// long (counted from when it began) fails with
  /// `perdure::heartbeat_timeout`, as `timeout` does, so a long body that
  /// reports progress may run on while a stuck one is retried early.
  std::optional<std::chrono::milliseconds> heartbeat_timeout = {};
  perdure::resources resources = {};
  /// A local step (default false): its body runs on the workflow's own
  /// thread as soon as the batch that dispatches it is durable, not in the
  /// step pool; for short, non-blocking steps (a computation, a call with a
  /// small bounded latency), like Temporal's local activities or Restate's
  /// `ctx.run`. It saves the two thread hand-offs of a pooled step (in
  /// `process` durability about half of a short step's cost). Its result is
  /// logged and retried as any step's, and `this_step` works as in any
  /// body. What differs:
  /// - it takes no pool resources: `resources` must be left unset;
  /// - `timeout` and `heartbeat_timeout` cannot preempt it: an attempt
  ///   that overran one fails with `perdure::timeout` /
  ///   `perdure::heartbeat_timeout` when it returns, its result dropped;
  /// - while it runs, its workflow takes no other message, and it holds one
  ///   of the engine's `actor_threads` (CAF workers), so
  ///   a body that blocks slows every workflow of the engine, and the
  ///   engine's close waits for it. Waiting for a workflow's result from a
  ///   local body fails at once (`invalid_argument`); a signal it sends
  ///   is stored through the log, never handed to a waiting actor.
  /// `this_step::canceled()` is set when its workflow is canceled. Logged
  /// with the graph, so a resume keeps it. Event nodes ignore it.
  std::optional<bool> local = {};
  /// User metadata shown by `engine::metadata(id, step)`.
  metadata_map metadata = {};
};

/// Options of one `run` / `run_async` call.
struct run_options {
  /// User metadata shown by `engine::metadata(id)`.
  metadata_map metadata = {};
};

/// Options of an engine.
struct engine_options {
  /// The storage directory; empty: eventlog::default_storage_dir()
  /// (`$PERDURE_STORAGE`, else `$XDG_STATE_HOME/perdure` or
  /// `~/.local/state/perdure`, `/var/lib/perdure` for root). Created 0700
  /// when missing; a directory of another user, one writable by others, or
  /// one with a symbolic link among its files is refused (`permission`).
  std::filesystem::path storage = {};
  /// Permission bits of the storage's files (eventlog::options::file_mode):
  /// owner read-write only by default, whatever the umask.
  unsigned file_mode = 0600;
  /// Where the engine, its actors and listeners report what they cannot
  /// return to a caller (work abandoned at shutdown, a listener callback
  /// that threw, a Kafka broker that is away); empty: stderr
  /// ("perdure: warning: ..."). See eventlog::log_sink for its contract.
  eventlog::log_sink log = {};
  /// eventlog::options::map_guard: the process-wide SIGSEGV/SIGBUS guard
  /// that turns damaged LMDB pages into `corruption` errors.
  bool map_guard = true;
  eventlog::durability durability = eventlog::durability::sync;
  /// How a `sync` commit reaches the disk (see eventlog::sync_policy).
  eventlog::sync_policy sync = eventlog::sync_policy::journal;
  /// With the journal: the longest time between checkpoints (LMDB synced
  /// behind the journal). Shorter: lower tail latency under heavy writes
  /// and a smaller data file; longer: more throughput. See
  /// eventlog::options::checkpoint_interval.
  std::chrono::milliseconds checkpoint_interval{100};
  /// With the journal: how often LMDB's dirty pages are pushed towards the
  /// disk between checkpoints (0: off). See
  /// eventlog::options::writeback_interval.
  std::chrono::milliseconds writeback_interval{3};
  /// The storage's size limit: LMDB's map grows (doubling) up to it, then
  /// writes fail with `full` and nothing committed is lost.
  std::size_t max_storage_size = std::size_t{64} << 30;
  /// What the step pool may run at once; unset cpus: the hardware's threads.
  resources capacity = {};
  /// CAF scheduler threads that run the workflow actors (0: min(2, cores)).
  std::size_t actor_threads = 0;
  /// The id written into every record (default "perdure-<pid>").
  std::string engine_id = {};
  /// Sees every committed write batch, in commit order (see
  /// eventlog::options::on_commit); used by the crash-at-every-write harness.
  std::function<void(const eventlog::write_batch&)> on_write = {};
  /// Serve Prometheus metrics (GET /metrics, text format 0.0.4) on this
  /// loopback address, e.g. "127.0.0.1:9100", "[::1]:9100"; port 0 picks
  /// an ephemeral port (see engine::metrics_port). Empty (the default): no
  /// listener. A non-loopback address fails the engine's opening with
  /// `invalid_argument`.
  std::string metrics_address = {};
  /// Serve the web page and JSON API of `perdure ui` (tools/README.md)
  /// from this engine on this address, e.g. "127.0.0.1:8233" (port 0: an
  /// ephemeral port, see engine::ui_port), beside /metrics; it reads and
  /// writes through the engine's own log. Empty (the default): none. The
  /// server is the tools module's, which the runtime does not link: set
  /// `ui_server` too, to perdure::tools::embedded_ui(...) (header
  /// perdure/tools/embedded_ui.hpp, library perdure_tools_embedded), which
  /// takes the safety options (loopback only, read-only and no token
  /// unless asked). Without `ui_server`, or when the server refuses the
  /// address or cannot listen on it, the open fails (`invalid_argument`,
  /// `io`).
  std::string ui_address = {};
  /// Starts the UI server of the open engine on `ui_address` (before the
  /// resume on open) and returns the port it listens on; what it starts
  /// is attached to the engine (engine::attach), which stops it first
  /// when it closes.
  std::function<result<std::uint16_t>(engine&, std::string_view address)>
    ui_server = {};
  /// How often a live workflow checks whether another process (`perdure
  /// cancel`) canceled it while it waits on a long step or an event; its
  /// next write notices at once anyway. Zero: only on the next write. The
  /// checks, and the signal source's look for signals another process
  /// (`perdure signal`) stored, cost nothing while no other process writes
  /// to the storage (event_log::foreign_commits) and nothing cancels
  /// through the engine's log.
  std::chrono::milliseconds external_cancel_check{500};
  /// How long `~engine` waits for running step bodies to return once it
  /// asked them to stop (their token is set). A body still running then is
  /// abandoned: its thread is not waited for, its result is dropped (never
  /// logged), its workflow stays resumable, and the engine names it on
  /// stderr. The destructor returns shortly after this.
  std::chrono::milliseconds stop_timeout{2000};
  /// Resume every resumable workflow when the engine opens (see
  /// engine::engine), so a crashed service comes back without a call to
  /// resume_all(). Off: they wait for resume(id) / resume_all().
  bool resume_on_open = true;
  /// Note every workflow record in the storage's workflow feed
  /// (records::workflow_feed_stream), in its own transaction, so that
  /// project_workflows() can build read models over all workflows. Costs
  /// one small record (its stream id, seq and kind) per workflow record.
  /// The storage keeps the setting: tools writing beside the engine note
  /// alike; an engine opened with another value changes it. Records
  /// written while it was off are not in the feed.
  bool workflow_feed = false;
  /// Continue-as-new (perdure::continue_as_new): how many ended runs of a
  /// workflow are kept, the latest ones (streams `runs/ID/N`, read with
  /// `perdure history ID --run N`); older ones are deleted in the
  /// transaction that keeps a new one. 0: none is kept.
  std::size_t keep_runs = 10;
  /// Run on this open event log instead of opening `storage`: a cluster
  /// node's partition store (cluster::node::store), whose writes the
  /// node replicates through its Kafka log. The log's options then hold
  /// for `storage` (its directory), durability, sync, checkpoints,
  /// file_mode and the storage size; `workflow_feed` needs the log opened
  /// with that change feed (else invalid_argument). One engine per log:
  /// another engine on it fails `busy`; a read-only log,
  /// `invalid_argument`. The engine does not close the log: close() waits
  /// until the engine's own writes are decided (a barrier commit), and
  /// the log's owner closes it. Its records are stamped by the log's
  /// writer (a node stamps its id), not `engine_id`.
  std::shared_ptr<eventlog::event_log> event_log = nullptr;
  /// Whether this engine may store workflow or actor `id` (empty: every
  /// id). Asked before a new workflow is stored (run, run_async,
  /// submit_batch, a child node, a Kafka subscription's start) and before
  /// an actor is resolved; an error is returned to that caller as it is
  /// (a child node fails with it) and nothing is stored. A generated
  /// workflow id is drawn again until accepted. cluster::engine_host sets
  /// it so that a partition's engine only stores ids of its partition.
  /// Called on any thread; must be quick and thread-safe.
  std::function<perdure::status(std::string_view id)> accept_id = nullptr;
  /// Where workflows live that this engine does not store (a cluster's
  /// other partitions; cluster::engine_host sets it on every partition's
  /// engine). A child node whose id is `elsewhere()` is started and
  /// followed there instead of being refused by accept_id: the parent's
  /// log records the child's id first (its children stream, the outbox
  /// entry), then the child is started where it lives, by its id, which
  /// that side stores once (runtime README, "Child workflows of another
  /// engine"). Null: every child is started in this engine.
  std::shared_ptr<remote_workflows> remote = nullptr;
};

/// The status of a workflow.
enum class workflow_status {
  running,    ///< live in this engine
  failed,     ///< a step failed after its attempts; resumable from that step
  resumable,  ///< stored as running but owned by no live engine (a crash)
  canceled,   ///< canceled; has no output
  successful, ///< finished; its output is stored
};

/// "running", "failed", "resumable", "canceled" or "successful".
std::string_view to_string(workflow_status s) noexcept;

} // namespace perdure
