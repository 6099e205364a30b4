// SPDX-License-Identifier: Apache-2.0
#pragma once

// One active actor: a runner that handles the actor's events one at a time
// on the actor pool (a strand: at most one worker drains its inbox), so the
// actor's mutating calls run one after another in arrival order while other
// actors run on other workers. A method may block (in a call to another
// actor): the pool replaces its worker (see actor_pool.hpp) and the
// runner's events wait in its inbox until the method returns.

#include "actor_internal.hpp"
#include "actor_outbox.hpp"
#include "actor_pool.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

namespace perdure::detail {

/// The log acknowledged (or failed) a group of calls.
struct commit_ack {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  status result; ///< the log's answer, its errc kept (full, closed, ...)
};
/// A sub-workflow of the actor ended.
struct sub_done {
  std::string workflow;
  status error;
  std::string bytes;
};
/// Time to check whether the actor is idle.
struct idle_tick {};

using cell_event = std::variant<mutation, std::vector<mutation>, commit_ack,
                                sub_done, idle_tick>;

/// Whether `eng`'s actors copy their events to the class feeds
/// (actor_options::event_feed).
bool event_feed_on(engine& eng);

/// The per-engine actor service (actor_service.cpp).
class actor_service final : public engine_service {
 public:
  engine* eng = nullptr;
  std::shared_ptr<eventlog::event_log> log;
  /// How a runner's calls reach the log: `log->submit`. A test puts a fake
  /// log here to acknowledge or fail each batch when it chooses.
  std::function<void(eventlog::write_batch, eventlog::event_log::completion,
                     eventlog::event_log::then)>
    submit_to_log;
  actor_options opts;
  std::unique_ptr<actor_pool> pool;
  std::unique_ptr<outbox> out; ///< sends what methods told
  std::chrono::milliseconds stop_timeout{2000};

  std::mutex mu;
  std::condition_variable idle;
  std::unordered_map<std::string, std::weak_ptr<actor_cell>> dir; ///< mu
  bool closing = false; ///< guarded by mu
  bool used = false;    ///< guarded by mu
  std::size_t live = 0; ///< active runners; guarded by mu
  std::atomic<bool> stopping{false};
  // The engine's metrics (engine::metrics(); they outlive this service).
  metrics::counter* activations = nullptr;
  metrics::counter* readonly_calls = nullptr;
  metrics::counter* mutating_calls = nullptr;

  ~actor_service() override;
  void stop() override;
  /// A runner finished (passivated or stopped).
  void actor_quit();
  /// Waits (on a thread of its own) for sub-workflow `wf` and posts its
  /// end to `r`; `st` null: the run is live elsewhere, poll its status.
  void watch(std::shared_ptr<cell_runner> r, std::string wf,
             std::shared_ptr<run_state> st);

 private:
  void join_waiters(bool only_finished);

  std::mutex waiters_mu_;
  std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>>
    waiters_; ///< guarded by waiters_mu_
};

/// A batch submitted to the log, not yet acknowledged.
struct in_flight {
  std::uint64_t no = 0;
  std::string key;
  std::shared_ptr<call_state> done; ///< completed by the log callback
  std::vector<std::shared_ptr<call_state>> followers; ///< same key again
  std::optional<remembered> outcome; ///< none: a sub-workflow starts
  std::shared_ptr<const void> state; ///< the state after it (null: same)
  std::shared_ptr<node> graph;
  std::string workflow;
  eventlog::seq_t last_after = 0;
  /// An earlier batch failed, so this one fails too (its expect_last
  /// check): with that failure's code.
  std::optional<errc> doomed;
  bool tells = false;  ///< its batch put messages in the actor's outbox
  /// A told message or an outside source's item (a sequenced key): the
  /// offset that keeps the highest seq applied from its source, and its seq.
  std::string seq_offset;
  std::uint64_t seq = 0;
};

/// A call's future and the outcome it gets once its group is durable.
struct group_reply {
  std::shared_ptr<call_state> done;
  remembered outcome;
};

/// Calls applied while one event is handled, logged as ONE write_batch
/// (one expect_last, their records in order): one log submission, one
/// completion and one commit_ack for all of them.
struct open_group {
  eventlog::write_batch b;
  std::uint64_t first_no = 0;
  std::uint64_t count = 0;
  std::vector<group_reply> replies;
  std::shared_ptr<const void> state; ///< after the group's last call
};

struct sub_call {
  std::string key;
  std::string workflow;
  std::vector<std::shared_ptr<call_state>> waiters;
};

/// What the runner's handlers keep; guarded by cell_runner::smu.
struct cell_state {
  std::shared_ptr<actor_cell> cell;
  actor_service* svc = nullptr;
  std::shared_ptr<const void> head;      ///< after every applied call
  std::shared_ptr<const void> committed; ///< after every durable call
  eventlog::seq_t committed_last = 0;
  eventlog::seq_t predicted_last = 0;
  std::uint32_t since_snapshot = 0;
  std::uint32_t events_since = 0;    ///< event-sourced: since the snapshot
  std::size_t event_bytes_since = 0; ///< calls' records' bytes since it
  /// The latest snapshot record's bytes: the next one waits until calls
  /// logged as many (snapshots at most double what calls write).
  std::size_t snapshot_bytes = 0;
  key_index keys;
  /// Offset of a sender's outbox or an outside source (sequenced_key::
  /// offset_of) -> the highest seq applied (and durable) here, read from
  /// the log on the source's first call.
  std::unordered_map<std::string, std::uint64_t> applied_seqs;
  std::deque<in_flight> pending;
  std::uint64_t next_no = 0;
  std::deque<mutation> waiting; ///< behind a sub-workflow
  std::optional<open_group> group; ///< calls applied, not yet submitted
  int grouping = 0; ///< > 0: submit() leaves the group open
  std::optional<sub_call> sub;
  /// A commit failed: once no group is in flight, the state is read
  /// again from the log (a failure may have taken effect).
  bool resync_due = false;
  bool stopping = false;
  bool finished = false;
  /// The call whose method runs now (smu released meanwhile); null: none.
  std::shared_ptr<call_state> running;
  std::string running_method;
};

class cell_runner : public std::enable_shared_from_this<cell_runner> {
 public:
  /// Queues `e`; schedules a drain on the pool unless one is scheduled.
  /// Mutations posted after the runner finished fail `closed`.
  void post(cell_event e);
  /// Sets up the state of an activation (recovers a pending sub-workflow).
  void start(std::shared_ptr<actor_cell> cell, loaded_actor loaded);
  /// The engine stops: no result of this actor is logged any more (a
  /// method whose nested call fails `closed` meanwhile logs nothing).
  /// Every runner gets this before any runner's stop().
  void begin_stop();
  /// The engine stops: queued calls fail `closed`, a running method's
  /// caller gets `closed` (its result will be dropped); finishes once no
  /// log write is in flight. Never waits for a method.
  void stop();
  /// The method running now, for the report of what stop abandoned.
  std::string running_method();

  /// Batches submitted whose completion has not run yet (counted down on
  /// the log's thread, before the replies go out).
  std::atomic<std::uint32_t> in_log{0};
  /// Held while a handler runs, released while a method runs.
  std::mutex smu;
  cell_state s;
  /// The drain's lock on smu while it handles an event.
  std::unique_lock<std::mutex>* held = nullptr;

  std::mutex qmu;
  std::deque<cell_event> inbox; ///< guarded by qmu
  bool scheduled = false;       ///< a drain is queued or runs; qmu
  bool quit = false;            ///< no more events; qmu

 private:
  void drain();
  void handle(cell_event& e);
};

// -- handlers (actor_runner.cpp, actor_apply.cpp); smu held ----------------

void finish(cell_runner& r);
void on_mutation(cell_runner& r, mutation m);
void on_mutations(cell_runner& r, std::vector<mutation>& ms);
/// Call `no` was made durable (`result` ok) or not: its caller is
/// answered with the log's errc (a conflict of the batch's expect_last
/// check, internal to the runner, as io).
void committed(cell_runner& r, std::uint64_t no, const status& result);
void sub_finished(cell_runner& r, const sub_done& d);
void start_sub(cell_runner& r, std::shared_ptr<node> graph,
               const std::string& wf);
void drain_waiting(cell_runner& r);
/// Completes `d` with outcome `r`.
void reply(call_state& d, const remembered& r);
/// Submits the open group, if any, to the log.
void flush(cell_runner& r);
/// Tracks `e`, whose records are in the open group's batch, until durable.
void submit(cell_runner& r, in_flight e);
/// The batch of the open group (opened when there is none).
eventlog::write_batch& batch_of(cell_state& s);
/// Adds a snapshot to `b` every snapshot_every events (state-logged).
void maybe_snapshot(cell_state& s, eventlog::write_batch& b,
                    const in_flight& cur);
/// Event-sourced: logs a snapshot in a batch of its own once enough events
/// or event bytes were logged since the last one (between calls).
void snapshot_between(cell_runner& r);

} // namespace perdure::detail
