// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internals shared by engine.cpp and the CAF translation unit: the state of
// one live run, the engine's private parts and the actor host interface
// (implemented where CAF is included, so no other file pays for CAF).

#include "perdure/eventlog/event_log.hpp"
#include "perdure/runtime/context.hpp"
#include "perdure/runtime/engine.hpp"

#include "engine_metrics.hpp"
#include "signal_source.hpp"
#include "metrics_http.hpp"
#include "perdure/runtime/metrics_server.hpp"
#include "step_pool.hpp"
#include "workflow_run.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <unordered_map>

namespace perdure::detail {

/// The shared state of one run: the workflow's state machine (mutated only
/// by its actor, read by the management API under `mu`) and the result.
class run_state {
 public:
  std::string id;
  mutable std::mutex mu;
  mutable std::condition_variable cv; ///< signalled on step success and end
  /// Signalled only at the end (finish): who waits for the run's output
  /// is not woken by every step of it.
  mutable std::condition_variable ended;
  std::unique_ptr<workflow_run> run;  ///< guarded by mu
  bool done = false;                  ///< guarded by mu
  status error;                       ///< guarded by mu; set when done
  std::shared_ptr<const std::string> output; ///< guarded by mu
  std::shared_ptr<std::atomic<bool>> cancel_flag =
    std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<void> actor; ///< the workflow actor (a caf::actor)
  /// Called once by finish() with the final status (listeners: dead
  /// letters of failed record workflows). Set before the run is spawned.
  std::function<void(const status&)> on_end;
  /// Resumed by engine_options::resume_on_open (guarded by mu):
  /// engine::resume(id) returns this run instead of failing busy.
  bool resumed_on_open = false;

  /// Marks the run finished and wakes every waiter.
  void finish(status st, std::shared_ptr<const std::string> out);
};

/// Runs workflow actors. Implemented in actor_host.cpp.
class actor_host {
 public:
  virtual ~actor_host() = default;
  /// Spawns the actor of `st`, which writes the run's first batch.
  virtual void spawn(std::shared_ptr<run_state> st) = 0;
  /// Asks the actor of `st` to cancel.
  virtual void cancel(run_state& st) = 0;
  /// Asks the actor of `st` to stop (engine shutdown): it ends once its
  /// running step bodies returned (their results are dropped).
  virtual void stop(run_state& st) = 0;
  /// Tells the stopping actor of `st` to end without waiting for its
  /// running bodies any more (they are abandoned).
  virtual void abandon(run_state& st) = 0;
  /// Spawns the actor of `st` whose first batch is durable already (see
  /// engine::submit_batch); it starts `dispatches`.
  virtual void spawn_begun(std::shared_ptr<run_state> st,
                           std::vector<dispatch> dispatches) = 0;
};

/// Reads blobs of one engine's log; fails `closed` once the engine is gone.
class log_blobs : public blob_source {
 public:
  explicit log_blobs(std::weak_ptr<eventlog::event_log> log)
    : log_(std::move(log)) {
  }
  status with_blob(std::string_view key,
                   const std::function<void(std::string_view)>& fn) override;

  /// The engine whose steps read through this (this_step::engine());
  /// null once it is being destroyed.
  std::atomic<perdure::engine*> owner{nullptr};

 private:
  std::weak_ptr<eventlog::event_log> log_;
};

/// Sets the thread's step context while a body runs (context.cpp).
struct step_scope {
  /// `beat`: where this_step::heartbeat() stores the steady clock (ns);
  /// `local`: the body runs on its workflow actor's thread.
  step_scope(const std::string& workflow, const std::string& step,
             int attempt, cancellation_token token,
             std::shared_ptr<blob_source> blobs,
             std::atomic<std::int64_t>* beat = nullptr, bool local = false);
  ~step_scope();
  /// The blobs the body put, to store with its output.
  std::vector<std::string> take_blobs();
};

/// True in the body of a local step (step_options::local), which runs on
/// its workflow actor's thread: it must not wait for a workflow actor.
bool in_local_step() noexcept;
/// Refuses a wait for workflow `id` from the body of a local step (it
/// holds its own workflow's thread and one of the engine's CAF workers: a
/// wait could never end). Ok elsewhere.
perdure::status may_wait_for(const std::string& id);

std::unique_ptr<actor_host> make_actor_host(engine::impl& eng,
                                            std::size_t threads);

/// Checks what the engine serves over HTTP before anything opens: the
/// metrics address, and a ui_address only with a ui_server (engine_ui.cpp).
perdure::status check_served(const engine_options& o);

/// The engine's log: opened from `opts` (storage, durability, feeds, the
/// commit hook), or opts.event_log, borrowed (its commit hook set through
/// observe_commits; `opts.storage` becomes its directory). engine_storage.cpp.
result<std::shared_ptr<eventlog::event_log>>
open_engine_log(engine::impl& p, engine_options& opts);

/// close()'s last step: closes an own log; a borrowed one is only let go
/// once the engine's writes are decided.
perdure::status close_engine_log(engine::impl& p);

} // namespace perdure::detail

namespace perdure {

struct engine::impl {
  engine_options opts;
  std::unique_ptr<metrics::registry> registry =
    std::make_unique<metrics::registry>();
  detail::engine_metrics m = detail::engine_metrics::create(*registry);
  std::unique_ptr<metrics::server> metrics_http; ///< null when off
  std::optional<std::uint16_t> ui_port; ///< the UI's (engine_ui.cpp)
  resources capacity;
  std::shared_ptr<eventlog::event_log> log;
  std::shared_ptr<detail::log_blobs> blobs;
  std::shared_ptr<detail::step_pool> pool;

  mutable std::mutex mu;
  std::condition_variable idle; ///< signalled when `live` shrinks
  std::unordered_map<std::string, std::shared_ptr<detail::run_state>> live;
  bool closing = false;
  bool shut = false; ///< (under mu and close_mu) close() stopped the runs
  /// Declared after what its actors read (mu, live), so that it goes first
  /// when an engine that never closed is destroyed.
  std::unique_ptr<detail::actor_host> host;

  std::mutex close_mu; ///< held by close() while it runs
  perdure::status close_status; ///< what close() returned

  /// Called by an actor when its run is over, before waking its waiters.
  void unregister(const std::string& id);
  /// The stored workflow `id`, replayed; `not_found` naming the storage.
  result<std::unique_ptr<detail::workflow_run>> load(std::string_view id) const;

  // -- events (listeners module) ---------------------------------------------
  std::mutex sources_mu;
  std::unordered_map<std::string, std::shared_ptr<detail::event_source>>
    sources; ///< guarded by sources_mu
  std::vector<std::shared_ptr<engine_service>> services; ///< guarded by mu
  bool services_stopped = false;                          ///< guarded by mu
  /// engine::service's objects, by class; kept until ~engine.
  std::mutex keyed_mu;
  std::vector<std::pair<std::type_index, std::shared_ptr<engine_service>>>
    keyed; ///< guarded by keyed_mu
  /// Wakes the signal source from the log's commit hook.
  std::shared_ptr<detail::signal_hub> signals =
    std::make_shared<detail::signal_hub>();
  /// Batches committed through this engine's log that set a stream's
  /// status to canceled (its commit hook): with the log's foreign_commits,
  /// what tells the cancel checker to look (a tool sharing the log object,
  /// as the embedded UI, commits as the engine does).
  std::shared_ptr<std::atomic<std::uint64_t>> cancels_logged =
    std::make_shared<std::atomic<std::uint64_t>>(0);
  /// The engine's source for event node `def` (made on first use); null
  /// once the engine is closing.
  std::shared_ptr<detail::event_source> source_for(const detail::step_def& def);
};

} // namespace perdure
