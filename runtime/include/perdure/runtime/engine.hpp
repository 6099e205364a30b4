// SPDX-License-Identifier: Apache-2.0
#pragma once

// The engine: owns a storage directory (one event log), a CAF actor system
// running one actor per live workflow, and the resource-bounded step pool.
// All member functions are thread-safe.

#include "perdure/runtime/handle.hpp"
#include "perdure/runtime/metadata.hpp"
#include "perdure/runtime/metrics.hpp"
#include "perdure/runtime/step.hpp"

#include "perdure/eventlog/event_log.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

namespace perdure {

/// A workflow id and its status, as listed by `engine::list`.
template <class T>
class actor_ref; // perdure/actors/actor.hpp

struct workflow_entry {
  std::string id;
  workflow_status status = workflow_status::running;
};

/// Something attached to an engine (a Kafka subscription) that the engine
/// stops first when it closes, before its workflows stop.
class engine_service {
 public:
  virtual ~engine_service() = default;
  /// Stops producing work; returns when no thread of it runs any more.
  virtual void stop() = 0;
};

/// One new workflow of `engine::submit_batch`.
struct new_run {
  std::shared_ptr<detail::node> root;
  std::string id;
  run_options opts;
  /// Called once with the final status when the run ends in this engine.
  std::function<void(const perdure::status&)> on_end;
};

/// The durable-execution engine. See DESIGN.md "Public API shape".
class engine {
 public:
  /// Opens the storage. Throws `workflow_busy` when another engine holds
  /// it, `perdure::error` when steps are registered twice or it cannot open.
  /// With `engine_options::resume_on_open` (the default) it then resumes
  /// every resumable workflow (stored running, owned by no engine: a crash
  /// or a stop), timers and signal waits included, so a crashed service
  /// comes back by itself; one that cannot resume (its code changed) stays
  /// resumable and is named through engine_options::log.
  explicit engine(engine_options opts = {});

  /// Non-throwing form of the constructor.
  static result<std::unique_ptr<engine>> open(engine_options opts = {});

  /// Stops within a bounded time: no new step starts; running step bodies
  /// are asked to stop (their token is set) and waited for up to
  /// `engine_options::stop_timeout`; bodies still running then are
  /// abandoned (their threads are not waited for and keep nothing of the
  /// engine) and named through engine_options::log. Results of bodies that
  /// return after the stop request are dropped, never logged: a body told
  /// to stop may return early. Unfinished workflows are resumable next time
  /// and run those attempts again. Actor methods still running are
  /// abandoned the same way (their callers get `closed`, and so do their
  /// own reads and writes from then on). The storage is given up on
  /// return, so it can be opened again at once, unless a read of it is
  /// still running after `stop_timeout` (then it stays open in this
  /// process until that read returns, and the log hook says so).
  ~engine();

  /// Stops the engine as the destructor does (above) and closes its
  /// storage, returning the final checkpoint's status (see
  /// eventlog::event_log::close): `full`, `permission` or `io` naming the
  /// failed call when the storage could not be synced and marked clean;
  /// nothing acknowledged is lost then, and the next open recovers. After
  /// it, new workflows fail `closed`, reads of stored ones keep working.
  /// Later calls return the same status; the destructor then does nothing
  /// more. Without close(), the destructor reports a failure through
  /// engine_options::log (an error).
  perdure::status close();

  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // -- running -----------------------------------------------------------------

  /// Starts `wf` as workflow `id` and returns at once. An empty `id` is
  /// generated: the creation time (microseconds since the epoch, 14 hex
  /// digits), '.', 32 random hex digits; such ids sort by creation.
  /// An id that finished returns its stored output without running anything;
  /// a stored unfinished id is resumed. Fails `busy` when `id` is live.
  template <class T>
  result<handle<T>> try_run_async(const workflow<T>& wf, std::string id = {},
                                  run_options opts = {}) {
    auto st = submit(wf.node(), std::move(id), std::move(opts));
    if (!st)
      return std::move(st).error();
    return handle<T>{std::move(*st)};
  }
  template <class T>
  handle<T> run_async(const workflow<T>& wf, std::string id = {},
                      run_options opts = {}) {
    return value_or_throw(try_run_async(wf, std::move(id), std::move(opts)));
  }
  /// Runs `wf` and waits for its output (see run_async for `id`).
  template <class T>
  result<T> try_run(const workflow<T>& wf, std::string id = {},
                    run_options opts = {}) {
    auto h = try_run_async(wf, std::move(id), std::move(opts));
    if (!h)
      return std::move(h).error();
    return h->try_get();
  }
  template <class T>
  T run(const workflow<T>& wf, std::string id = {}, run_options opts = {}) {
    return value_or_throw(try_run(wf, std::move(id), std::move(opts)));
  }

  // -- management --------------------------------------------------------------

  /// The status of `id`; `not_found` for an unknown id.
  result<workflow_status> try_status(std::string_view id) const;
  workflow_status status(std::string_view id) const {
    return value_or_throw(try_status(id));
  }

  /// The workflow's output, or the named step's (by step id). Blocks while
  /// the workflow (or step) is live; never runs anything. Fails `not_found`,
  /// `canceled`, `failed` (with the recorded cause), or `conflict` for a
  /// resumable id.
  template <class T>
  result<T> try_output(std::string_view id, std::string_view step = {}) const {
    auto bytes = output_bytes(id, step);
    if (!bytes)
      return std::move(bytes).error();
    return detail::decode_value<T>(*bytes);
  }
  template <class T>
  T output(std::string_view id, std::string_view step = {}) const {
    return value_or_throw(try_output<T>(id, step));
  }

  /// Workflows whose status is one of `filter` (all when empty), by id.
  result<std::vector<workflow_entry>> try_list(
    std::vector<workflow_status> filter = {}) const;
  std::vector<workflow_entry> list(
    std::vector<workflow_status> filter = {}) const {
    return value_or_throw(try_list(std::move(filter)));
  }

  /// Resumes a failed or resumable workflow (a successful one just returns
  /// its output). A workflow this engine resumed when it opened
  /// (resume_on_open) returns that run's handle. Fails `busy` when live, `canceled` when canceled,
  /// `type_mismatch` naming the step whose code is gone or changed (the
  /// workflow is left as it was).
  result<handle<>> try_resume(std::string_view id);
  handle<> resume(std::string_view id) {
    return value_or_throw(try_resume(id));
  }
  template <class T>
  handle<T> resume(std::string_view id) {
    return handle<T>{value_or_throw(try_resume(id)).state()};
  }

  /// Resumes every resumable workflow (and failed ones when asked); returns
  /// the ids resumed. Ids that cannot resume are skipped.
  std::vector<std::string> resume_all(bool include_failed = false);

  /// Cancels `id`: no new step starts, waiting events are dropped, running
  /// bodies see their token; returns once the cancel is durable, without
  /// waiting for running bodies (as Temporal does with activities): a body
  /// that ignores its token is left to finish on its thread (it keeps its
  /// step-pool resources until then) and its result is dropped, never
  /// logged. A finished workflow is left as it is. Fails `not_found`.
  perdure::status try_cancel(std::string_view id);
  void cancel(std::string_view id) {
    ok_or_throw(try_cancel(id));
  }

  /// Deletes `id` and its history (with its pending signals and the
  /// earlier runs kept by continue-as-new); the id may be used again.
  /// Fails `busy` while it is live, `not_found` when unknown.
  perdure::status try_remove(std::string_view id);
  void remove(std::string_view id) {
    ok_or_throw(try_remove(id));
  }

  /// Metadata of workflow `id`, or of its step `step` (by step id).
  result<workflow_metadata> try_metadata(std::string_view id) const;
  result<step_metadata> try_metadata(std::string_view id,
                                     std::string_view step) const;
  workflow_metadata metadata(std::string_view id) const {
    return value_or_throw(try_metadata(id));
  }
  step_metadata metadata(std::string_view id, std::string_view step) const {
    return value_or_throw(try_metadata(id, step));
  }

  // -- objects -----------------------------------------------------------------

  /// Stores `value` once (content-addressed, durable on return).
  template <class T>
  object_ref<T> put(const T& value) {
    auto key = value_or_throw(put_bytes(detail::encode_value(value)));
    return object_ref<T>{std::move(key), blob_source()};
  }
  /// Reads a stored object.
  template <class T>
  T get(const object_ref<T>& ref) const {
    return object_ref<T>{ref.key(), blob_source()}.get();
  }

  // -- signals ---------------------------------------------------------------

  /// Sends signal `name` with `value` to workflow `id`, for its
  /// `wait_for_signal<T>(name)` nodes (perdure/runtime/signal.hpp); returns
  /// once the signal is durable. Signals of one name are consumed in send
  /// order, each by one wait, exactly once; one sent before the workflow
  /// reaches its wait is kept. `value` is stored with the codec (a
  /// string literal as std::string); a wait whose T it does not decode as
  /// fails. Fails `not_found` for an unknown id, `canceled` for a canceled
  /// workflow, `conflict` for a finished one (successful or failed), and
  /// `invalid_argument` for a bad name (see wait_for_signal); nothing is
  /// stored then. A resumable workflow (not running in any engine) keeps
  /// the signal until it resumes. Thread-safe; may be called from a step.
  template <class T>
  perdure::status try_signal(std::string_view id, std::string_view name,
                             const T& value) {
    if constexpr (std::is_array_v<T> || std::is_pointer_v<T>)
      return signal_bytes(id, name, detail::encode_value(std::string{value}));
    else
      return signal_bytes(id, name, detail::encode_value(value));
  }
  template <class T>
  void signal(std::string_view id, std::string_view name, const T& value) {
    ok_or_throw(try_signal(id, name, value));
  }
  /// As try_signal with an encoded value (a self-describing payload, e.g.
  /// from JSON); `sender` is logged with it.
  perdure::status signal_bytes(std::string_view id, std::string_view name,
                               std::string value,
                               std::string_view sender = "engine");
  /// Adds signal `name` (encoded `value`, from `sender`) for workflow `id`
  /// to `b`, for a caller that commits it with other writes (a Kafka
  /// subscription: the signals and the consumed offsets in one
  /// transaction). Checks as signal_bytes does and fails alike without
  /// touching `b`; also `busy` when this engine started `id` and its
  /// first records are not stored yet (add it again in a moment). `b`
  /// expects the workflow's last seq: its commit fails `conflict` when
  /// the workflow logged meanwhile (it may have ended): build it again.
  perdure::status add_signal(eventlog::write_batch& b, std::string_view id,
                             std::string_view name, std::string value,
                             std::string_view sender);

  // -- durable promises --------------------------------------------------------

  /// Completes promise `promise_id` ("NAME@WORKFLOW", from
  /// this_step::promise_id or perdure::promise_id) with `value`, for the
  /// workflow's `wait_for_promise<T>(NAME)` nodes
  /// (perdure/runtime/promise.hpp); returns once durable. A promise is
  /// settled once: a second complete or reject fails `conflict` (naming
  /// who settled it) and changes nothing. A settlement made before the
  /// workflow waits is kept. Fails `not_found` for an unknown workflow,
  /// `canceled` for a canceled one, `conflict` for a finished one,
  /// `invalid_argument` for a malformed id; nothing is stored then.
  /// `value` is stored with the codec as try_signal's. Thread-safe.
  template <class T>
  perdure::status try_complete(std::string_view promise_id, const T& value) {
    if constexpr (std::is_array_v<T> || std::is_pointer_v<T>)
      return settle_promise(promise_id, true,
                            detail::encode_value(std::string{value}));
    else
      return settle_promise(promise_id, true, detail::encode_value(value));
  }
  template <class T>
  void complete(std::string_view promise_id, const T& value) {
    ok_or_throw(try_complete(promise_id, value));
  }
  /// Rejects promise `promise_id`: its waits fail with
  /// `perdure::promise_rejected` and `reason`. Errors as try_complete.
  perdure::status try_reject(std::string_view promise_id,
                             std::string_view reason) {
    return settle_promise(promise_id, false, std::string{reason});
  }
  void reject(std::string_view promise_id, std::string_view reason) {
    ok_or_throw(try_reject(promise_id, reason));
  }
  /// Behind try_complete (`ok`: an encoded value) and try_reject (a
  /// reason); `sender` is logged with it.
  perdure::status settle_promise(std::string_view promise_id, bool ok,
                                 std::string value_or_reason,
                                 std::string_view sender = "engine");

  // -- events (the listeners module) -------------------------------------------

  /// Subscribes `target` to `source`, e.g. `subscribe(kafka_source{...},
  /// start_workflow(step))`; found by argument-dependent lookup of
  /// `perdure_subscribe` (declared by the listeners module).
  template <class Source, class Target>
  auto subscribe(const Source& source, Target target) {
    return perdure_subscribe(*this, source, std::move(target));
  }

  /// Keeps `s` until the engine closes; the engine stops it first. Once the
  /// engine has closed, `s` is stopped at once.
  void attach(std::shared_ptr<engine_service> s);

  /// The engine's one service of class `S` (an optional module's per-engine
  /// state, e.g. the actors' directory): made by `make()` (returning
  /// `std::shared_ptr<S>`) on first use and attached; the same object on
  /// every later call, also after the engine stopped it. Thread-safe;
  /// `make` runs once, under a lock, and must not ask for a service itself.
  template <class S, class Make>
  std::shared_ptr<S> service(Make&& make) {
    return std::static_pointer_cast<S>(find_service(
      typeid(S), [&]() -> std::shared_ptr<engine_service> { return make(); }));
  }

  /// Starts new workflows whose first records commit in one atomic batch
  /// together with what `extra` adds (source offsets, dead letters), and
  /// waits until it is durable. An id already stored or live is skipped
  /// (false at its index). Fails `closed` when the engine is closing,
  /// `invalid_argument` for a graph that cannot run (nothing is written).
  result<std::vector<bool>> submit_batch(
    std::vector<new_run> runs,
    const std::function<void(eventlog::write_batch&)>& extra);

  /// The engine's event log (reads, offsets, dead letters).
  const std::shared_ptr<eventlog::event_log>& event_log() const noexcept;

  // -- virtual actors (defined in perdure/actors/actor.hpp) ---------------------

  /// Gets or creates actor `id` of class `T` (constructed from `args` when
  /// new; durable on return). Fails `type_mismatch` when `id` is an actor of
  /// another class, `closed` when the engine is closing.
  template <class T, class... Args>
  result<actor_ref<T>> try_actor(std::string id, Args&&... args);
  template <class T, class... Args>
  actor_ref<T> actor(std::string id, Args&&... args);
  /// The existing actor `id`: `not_found` when there is none,
  /// `type_mismatch` when it is of another class.
  template <class T>
  result<actor_ref<T>> try_get_actor(std::string id);
  template <class T>
  actor_ref<T> get_actor(std::string id);

  // -- state -------------------------------------------------------------------

  const std::filesystem::path& storage() const noexcept;
  /// The options the engine was opened with (actor_threads resolved: the
  /// number of threads the workflow actors and the virtual actors each
  /// keep running).
  const engine_options& options() const noexcept;

  /// The engine's metrics (always kept; served on /metrics when
  /// `engine_options::metrics_address` is set). Modules and applications
  /// may add their own.
  metrics::registry& metrics() const noexcept;
  /// The port /metrics is served on; none when metrics_address is empty.
  std::optional<std::uint16_t> metrics_port() const noexcept;
  /// The port the web UI is served on (engine_options::ui_address); none
  /// when ui_address is empty.
  std::optional<std::uint16_t> ui_port() const noexcept;

  /// Workflows live in this engine.
  std::size_t live_count() const;

  /// Type-erased entry points behind the templates above.
  result<std::shared_ptr<detail::run_state>> submit(
    std::shared_ptr<detail::node> root, std::string id, run_options opts);
  result<std::string> output_bytes(std::string_view id,
                                   std::string_view step) const;
  result<std::string> put_bytes(std::string bytes);
  std::shared_ptr<detail::blob_source> blob_source() const;
  std::shared_ptr<engine_service> find_service(
    const std::type_info& key,
    const std::function<std::shared_ptr<engine_service>()>& make);

  struct impl;

 private:
  explicit engine(std::unique_ptr<impl> p);
  /// The end of an open: starts the UI (engine_options::ui_address), then
  /// resumes (resume_on_open); on failure the engine is closed.
  perdure::status finish_open();
  void resume_on_open();
  std::unique_ptr<impl> impl_;
};

} // namespace perdure
