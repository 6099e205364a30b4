// SPDX-License-Identifier: Apache-2.0
#pragma once

// The lazy graph: `workflow<T>` (a node whose output is a T once it ran) and
// `flow<T>` (what a dynamic step returns: a value or another graph). The
// `detail` part is the type-erased form the engine executes and logs.

#include "perdure/runtime/options.hpp"
#include "perdure/runtime/values.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace perdure {
namespace metrics {
class registry;
}
namespace detail {

struct step_def;
struct node;
struct event_source;
struct direct_event;

/// One argument of a node as built: a literal, another node's output, a
/// stored blob, or a list of arguments (a container of workflows).
struct arg {
  enum class kind : std::uint8_t { value = 0, node = 1, blob = 2, list = 3 };
  kind what = kind::value;
  std::string bytes;          ///< value: the encoded literal; blob: the key
  std::shared_ptr<node> ref;  ///< node: the producing node
  std::vector<arg> items;     ///< list: the elements
};

/// One call of a step in a graph. Shared nodes are one step (run once).
struct node {
  std::shared_ptr<const step_def> def;
  step_options opts;     ///< per-call options (override the step's)
  bool catching = false; ///< output is caught<T>
  std::vector<arg> args;
};

/// An argument as resolved for a step run: encoded bytes, or a list.
struct input {
  bool is_list = false;
  std::string bytes;
  std::vector<input> items;
};

/// What one attempt of a step body produced.
struct outcome {
  /// restart: the step returned continue_as_new(graph).
  enum class kind : std::uint8_t { value, graph, error, restart };
  kind what = kind::error;
  std::string bytes;            ///< value: the encoded output
  std::shared_ptr<node> graph;  ///< graph, restart: the returned graph
  std::string error_type;
  std::string error_text;

  static outcome failure(std::string type, std::string text) {
    outcome o;
    o.error_type = std::move(type);
    o.error_text = std::move(text);
    return o;
  }
};

/// A registered step: its stable name, signature and type-erased body.
struct step_def {
  std::string name;
  std::string signature; ///< e.g. "int(int,int)", from the codec's type texts
  bool dynamic = false;  ///< may return a graph
  step_options defaults;
  std::function<outcome(std::vector<input>&)> invoke;
  /// Turns the encoded output T into an encoded caught<T>.
  std::function<result<std::string>(std::string_view)> caught_value;
  /// An encoded caught<T> holding an error.
  std::function<std::string(const std::string&, const std::string&)>
    caught_error;

  // -- event nodes (extension point driven by the listeners module) --------

  /// Non-empty for an event node: the name of the event source that
  /// produces the node's output (`invoke` is not called). The engine makes
  /// one source per name with `make_source` on first use.
  std::string source_name;
  std::function<std::shared_ptr<event_source>()> make_source;
  /// Optional: the node's durable deadline (ns since the epoch) computed
  /// from its inputs when it first runs; logged as timer_set with a timer
  /// index entry in the same batch, and reused on resume.
  std::function<result<std::int64_t>(std::vector<input>&)> deadline;

  // -- race nodes (first_of, with_timeout; perdure/runtime/race.hpp) --------

  /// Set for a race node: it runs no body; the first of its node
  /// arguments to succeed wins, and its output is `pick(k, bytes)` of the
  /// winner, the k-th argument, whose encoded output is `bytes`.
  std::function<result<std::string>(std::size_t, const std::string&)> pick;
};

/// One armed wait of an event node, handed to its event source.
struct event_wait {
  std::string workflow;
  std::string step;           ///< the node's step id
  std::uint32_t node = 0;
  int attempt = 1;
  std::shared_ptr<const step_def> def;
  std::vector<input> inputs;  ///< resolved arguments
  std::optional<std::int64_t> due; ///< the logged deadline, if any
  /// Set once nobody waits any more (cancel, engine stop, workflow end).
  std::shared_ptr<std::atomic<bool>> dropped =
    std::make_shared<std::atomic<bool>>(false);
  /// Hands the event (or an error) to the workflow; `offsets` (key, next
  /// offset) commit in the same batch as the event. Call at most once;
  /// thread-safe; a call after the wait was dropped is ignored.
  std::function<void(outcome, std::vector<std::pair<std::string,
                                                    std::int64_t>>)>
    deliver;
  /// Like `deliver`, for an event handed over by its sender itself (a
  /// signal from engine::signal): `ev`'s records commit in the event's
  /// batch, and `ev` hears how that batch ended (or, dropped, that nobody
  /// took the event). Set by the engine; empty elsewhere.
  std::function<void(outcome, std::shared_ptr<direct_event> ev)>
    deliver_direct;
  /// The offset stored under `key` in the engine's log (what `deliver`'s
  /// offsets wrote), so a source resumes where the log says it stopped.
  std::function<result<std::optional<std::int64_t>>(const std::string&)>
    stored_offset;
};

/// Produces the outputs of event nodes. Implemented by the listeners
/// module; one instance per engine and source name.
struct event_source {
  virtual ~event_source() = default;
  /// Where the source reports what it cannot deliver (set by the engine
  /// from engine_options::log before the first arm; empty: stderr).
  eventlog::log_sink log;
  /// The engine's metrics, where the source may keep gauges of its own
  /// (set by the engine before the first arm; it outlives the source).
  /// Null when the source is used without an engine.
  perdure::metrics::registry* metrics = nullptr;
  /// Starts waiting for `w`'s event; must not block.
  virtual void arm(std::shared_ptr<event_wait> w) = 0;
  /// The event of `w` (encoded `bytes`) is durable as the node's output.
  /// Also called again for events received before a crash when their
  /// workflow resumes (at least once). Must not block.
  virtual void checkpointed(const event_wait& w, const std::string& bytes) {
    (void) w;
    (void) bytes;
  }
  /// Engine shutdown: every wait was dropped; return when no thread of the
  /// source runs any more.
  virtual void stop() {
  }
};

/// Registers `def` under `def->name`. A second live registration of the
/// same name is remembered and reported by engines (`registry_check`).
std::shared_ptr<const step_def> register_step(std::shared_ptr<step_def> def);

/// The live step registered as `name`, or null.
std::shared_ptr<const step_def> find_step(std::string_view name);

/// Ok, or `invalid_argument` naming the step names registered twice.
status registry_check();

/// The type and text of the exception in flight (call inside `catch`).
std::pair<std::string, std::string> describe_current_exception();

} // namespace detail

/// A lazy step call whose output is a `T`. Building one runs nothing; pass
/// it to other steps or to `engine::run`. Cheap to copy; copies are the same
/// step (it runs once even when used by several consumers).
template <class T>
class workflow {
 public:
  using value_type = T;

  /// @pre `n != nullptr`
  explicit workflow(std::shared_ptr<detail::node> n) : node_(std::move(n)) {
  }

  const std::shared_ptr<detail::node>& node() const noexcept {
    return node_;
  }

 private:
  std::shared_ptr<detail::node> node_;
};

/// What `continue_as_new(next)` returns; a `flow<T>` is made from it.
template <class T>
struct continued_as_new {
  std::shared_ptr<detail::node> graph;
};

/// Returned by a dynamic step (as its `flow<T>`): ends the workflow's
/// current run and starts `next` as its new run under the same id, so a
/// workflow that loops forever keeps a bounded history. `next` is a whole
/// new graph (its literal arguments are the new input); its output type
/// must be the workflow's (else the step fails `perdure::type_mismatch`).
///
/// In one transaction: the ended run's records move from the workflow's
/// stream to stream `runs/ID/N` (N: the run number, 1 for the first run;
/// `perdure history ID --run N`), the oldest kept runs beyond
/// `engine_options::keep_runs` are deleted, and the new run's first
/// records are written. A crash before it commits resumes the old run,
/// which runs this step again; after it, the new run resumes. What the
/// old run still ran is canceled (its running bodies see their token and
/// their results are dropped; its durable timers are removed). Signals
/// not consumed by the old run stay for the new one; durable promises and
/// child workflows are named per workflow id, so a new run sees those the
/// old one settled or started (use per-run names, e.g. with the input).
/// The workflow's handle, output and status follow the last run; its
/// metadata names the run (`workflow_metadata::run_number`). The graph's
/// nodes are checked as for a new workflow; an unregistered step fails
/// this step (`perdure::invalid_argument`).
template <class T>
continued_as_new<T> continue_as_new(const workflow<T>& next) {
  return {next.node()};
}

/// What a dynamic step returns: a plain value, or a graph whose output
/// becomes the step's output (recursion, loops, branching), or
/// `continue_as_new(graph)`.
template <class T>
class flow {
 public:
  using value_type = T;

  /// A finished value.
  template <class U>
    requires std::is_convertible_v<U&&, T>
  flow(U&& v) : value_(std::in_place, std::forward<U>(v)) {
  }
  /// A graph to run next.
  flow(workflow<T> w) : graph_(w.node()) {
  }
  /// A new run of the workflow (see continue_as_new).
  flow(continued_as_new<T> c) : graph_(std::move(c.graph)), restart_(true) {
  }

  bool is_graph() const noexcept {
    return graph_ != nullptr;
  }
  /// The graph is a new run of the workflow (continue_as_new).
  bool continues_as_new() const noexcept {
    return restart_;
  }
  const std::shared_ptr<detail::node>& graph() const noexcept {
    return graph_;
  }
  /// @pre `!is_graph()`
  const T& value() const {
    return *value_;
  }

 private:
  std::optional<T> value_;
  std::shared_ptr<detail::node> graph_;
  bool restart_ = false;
};

} // namespace perdure
