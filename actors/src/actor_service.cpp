// The only CAF translation unit of the actors module: the per-engine actor
// service (directory id -> cell, activation, passivation, shutdown) and the
// actor behaviour that serializes one actor's mutating calls, pipelines
// their log commits and runs sub-workflows.

#include "actor_internal.hpp"

#include <caf/all.hpp>

#include <fmt/format.h>
#include <thread>

namespace perdure::detail {

struct sub_done {
  std::string workflow;
  status error;
  std::string bytes;
};

} // namespace perdure::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<perdure::detail::mutation>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(
  std::shared_ptr<std::vector<perdure::detail::mutation>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<perdure::detail::sub_done>)

namespace perdure::detail {

namespace {

using acommit_atom = caf::atom_constant<caf::atom("acommit")>;
using aidle_atom = caf::atom_constant<caf::atom("aidle")>;
using astop_atom = caf::atom_constant<caf::atom("astop")>;
using eventlog::record_kind;
using eventlog::to_u16;

std::shared_ptr<caf::actor> handle_of(actor_cell& c) {
  return std::static_pointer_cast<caf::actor>(c.actor);
}

} // namespace

// -- the service ------------------------------------------------------------------

class actor_service final : public engine_service {
 public:
  engine* eng = nullptr;
  std::shared_ptr<eventlog::event_log> log;
  caf::actor_system* sys = nullptr;
  actor_options opts;

  std::mutex mu;
  std::condition_variable idle;
  std::unordered_map<std::string, std::weak_ptr<actor_cell>> dir; ///< mu
  bool closing = false; ///< guarded by mu
  bool used = false;    ///< guarded by mu
  std::size_t live = 0; ///< CAF actors running; guarded by mu
  std::atomic<bool> stopping{false};
  // The engine's metrics (engine::metrics(); they outlive this service).
  metrics::counter* activations = nullptr;
  metrics::counter* readonly_calls = nullptr;
  metrics::counter* mutating_calls = nullptr;

  ~actor_service() override {
    join_waiters(false);
  }

  void stop() override {
    std::vector<std::shared_ptr<actor_cell>> cells;
    {
      std::lock_guard guard{mu};
      closing = true;
      for (auto& [id, w] : dir)
        if (auto c = w.lock())
          cells.push_back(std::move(c));
    }
    stopping = true;
    for (auto& c : cells) {
      std::lock_guard guard{c->mu};
      if (c->active)
        caf::anon_send(*handle_of(*c), astop_atom::value);
    }
    cells.clear();
    {
      std::unique_lock guard{mu};
      idle.wait(guard, [&] { return live == 0; });
    }
    join_waiters(false);
  }

  void actor_quit() {
    {
      std::lock_guard guard{mu};
      --live;
    }
    idle.notify_all();
  }

  /// Waits (on a thread of its own) for sub-workflow `wf` and reports its
  /// end to `hdl`; `st` null: the run is live elsewhere, poll its status.
  void watch(caf::actor hdl, std::string wf, std::shared_ptr<run_state> st) {
    auto finished = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard guard{waiters_mu_};
    join_waiters(true);
    waiters_.emplace_back(
      std::thread{[this, hdl, wf = std::move(wf), st, finished] {
        using namespace std::chrono_literals;
        // Polls with a timeout so that stop() never waits for a workflow:
        // services stop before the engine stops its workflows.
        while (!stopping) {
          auto d = std::make_shared<sub_done>();
          d->workflow = wf;
          result<std::string> out = std::string{};
          if (st) {
            if (!await_for(*st, 50ms))
              continue;
            out = await_output(*st);
          } else {
            auto s = eng->try_status(wf);
            if (s && *s == workflow_status::running) {
              std::this_thread::sleep_for(50ms);
              continue;
            }
            out = eng->output_bytes(wf, {});
          }
          if (out)
            d->bytes = std::move(*out);
          else
            d->error = out.error();
          caf::anon_send(hdl, d);
          break;
        }
        finished->store(true);
      }},
      finished);
  }

 private:
  void join_waiters(bool only_finished) {
    std::unique_lock guard{waiters_mu_, std::defer_lock};
    if (!only_finished)
      guard.lock();
    for (auto i = waiters_.begin(); i != waiters_.end();) {
      if (only_finished && !i->second->load()) {
        ++i;
        continue;
      }
      if (i->first.joinable())
        i->first.join();
      i = waiters_.erase(i);
    }
  }

  std::mutex waiters_mu_;
  std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>>
    waiters_; ///< guarded by waiters_mu_
};

actor_cell::~actor_cell() {
  if (!svc)
    return;
  std::lock_guard guard{svc->mu};
  if (auto i = svc->dir.find(id); i != svc->dir.end() && i->second.expired())
    svc->dir.erase(i);
}

namespace {

std::mutex registry_mu;
std::unordered_map<const engine*, std::weak_ptr<actor_service>> registry;

std::shared_ptr<actor_service> service_of(engine& eng) {
  std::lock_guard guard{registry_mu};
  auto& w = registry[&eng];
  auto svc = w.lock();
  if (svc && !svc->stopping)
    return svc;
  svc = std::make_shared<actor_service>();
  svc->eng = &eng;
  svc->log = eng.event_log();
  svc->sys = static_cast<caf::actor_system*>(eng.actor_system());
  auto& reg = eng.metrics();
  svc->activations = &reg.get_counter(
    "perdure_actor_activations_total",
    "Virtual actors loaded from the log into memory (created or reactivated).");
  svc->readonly_calls = &reg.get_counter(
    "perdure_actor_calls_total", "Virtual actor method calls by kind.",
    {{"kind", "readonly"}});
  svc->mutating_calls = &reg.get_counter(
    "perdure_actor_calls_total", "Virtual actor method calls by kind.",
    {{"kind", "mutating"}});
  eng.attach(svc);
  w = svc;
  return svc;
}

// -- the actor ----------------------------------------------------------------------

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
  bool doomed = false; ///< an earlier batch failed; this one fails too
};

/// What the log's completion of a group answers: a call's future and the
/// outcome it gets once the group is durable.
struct group_reply {
  std::shared_ptr<call_state> done;
  remembered outcome;
};

/// Calls applied while one message is handled, logged as ONE write_batch
/// (one expect_last, their records in order): one log submission, one
/// completion and one acommit message for all of them.
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

struct cell_state {
  std::shared_ptr<actor_cell> cell;
  actor_service* svc = nullptr;
  std::shared_ptr<const void> head;      ///< after every applied call
  std::shared_ptr<const void> committed; ///< after every durable call
  eventlog::seq_t committed_last = 0;
  eventlog::seq_t predicted_last = 0;
  std::uint32_t since_snapshot = 0;
  key_index keys;
  std::deque<in_flight> pending;
  std::uint64_t next_no = 0;
  std::deque<mutation> waiting; ///< behind a sub-workflow
  std::optional<open_group> group; ///< calls applied, not yet submitted
  int grouping = 0; ///< > 0: submit() leaves the group open
  std::optional<sub_call> sub;
  bool stopping = false;
};

using cell_actor = caf::stateful_actor<cell_state>;

void reply(call_state& d, const remembered& r) {
  if (r.ok)
    d.complete({}, r.result);
  else
    d.complete({errc::failed, r.error}, {});
}

void finish(cell_actor* self) {
  auto& s = self->state;
  {
    std::lock_guard guard{s.cell->mu};
    s.cell->active = false;
    s.cell->actor.reset();
    s.cell->snapshot.store(nullptr);
  }
  s.svc->actor_quit();
  self->quit();
}

void on_mutation(cell_actor* self, mutation m);

void drain_waiting(cell_actor* self) {
  auto& s = self->state;
  while (!s.sub && !s.waiting.empty()) {
    auto m = std::move(s.waiting.front());
    s.waiting.pop_front();
    on_mutation(self, std::move(m));
  }
}

// Submits the open group, if any, to the log.
void flush(cell_actor* self) {
  auto& s = self->state;
  if (!s.group)
    return;
  auto g = std::move(*s.group);
  s.group.reset();
  s.svc->log->submit(
    std::move(g.b),
    [hdl = caf::actor{self}, cell = s.cell, first = g.first_no,
     count = g.count, replies = std::move(g.replies),
     state = std::move(g.state)](result<eventlog::commit_info> r) {
      // Publish and answer here, in commit order, without a mailbox hop:
      // the results go out as soon as they are durable.
      if (r) {
        if (state)
          cell->snapshot.store(state);
        for (auto& x : replies)
          reply(*x.done, x.outcome);
      }
      caf::anon_send(hdl, acommit_atom::value, first, count, r.has_value(),
                     r ? std::string{} : r.error().to_string());
    });
}

// Tracks call `e`, whose records are in the open group's batch, until
// durable; submits the group unless the handler groups several calls.
void submit(cell_actor* self, in_flight e) {
  auto& s = self->state;
  auto& g = *s.group;
  e.no = s.next_no++;
  e.last_after = s.predicted_last;
  if (e.outcome && e.done)
    g.replies.push_back({e.done, *e.outcome});
  if (e.state)
    g.state = e.state;
  ++g.count;
  s.pending.push_back(std::move(e));
  if (s.grouping == 0)
    flush(self);
}

// The batch of the open group (opened, chained to the predicted last
// record, when there is none).
eventlog::write_batch& batch_of(cell_state& s) {
  if (!s.group) {
    s.group.emplace();
    s.group->first_no = s.next_no;
    s.group->b.expect_last(s.cell->stream, s.predicted_last);
  }
  return s.group->b;
}

// Adds a snapshot to `b` every snapshot_every events; `cur` is the call
// whose record `b` holds (its key belongs in the snapshot too).
void maybe_snapshot(cell_state& s, eventlog::write_batch& b,
                    const in_flight& cur) {
  auto& o = s.svc->opts;
  if (s.sub || ++s.since_snapshot < std::max<std::uint32_t>(1, o.snapshot_every))
    return;
  // Encoded from views of the keys (a snapshot holds up to key_window of
  // them), unless a key has a NUL byte, which a C string cannot carry.
  actor_records::snapshot_view view;
  view.keys.reserve(std::min<std::size_t>(s.keys.size(), o.key_window)
                    + s.pending.size() + 1);
  bool plain = true;
  auto add = [&](const std::string& k, const remembered& r) {
    plain = plain && k.find('\0') == std::string::npos
            && r.error.find('\0') == std::string::npos;
    view.keys.push_back({k.c_str(), r.ok, {r.result}, r.error.c_str()});
  };
  s.keys.for_newest(o.key_window, add);
  for (auto& e : s.pending)
    if (e.outcome)
      add(e.key, *e.outcome);
  if (cur.outcome)
    add(cur.key, *cur.outcome);
  std::string bytes;
  if (plain) {
    view.state.data = s.cell->cls->encode(s.head.get());
    bytes = codec::encode(view);
  } else {
    actor_records::snapshot snap;
    snap.state.data = s.cell->cls->encode(s.head.get());
    snap.keys = s.keys.newest(o.key_window);
    auto add_copy = [&](const in_flight& e) {
      if (e.outcome)
        snap.keys.push_back({e.key, e.outcome->ok, {e.outcome->result},
                             e.outcome->error});
    };
    for (auto& e : s.pending)
      add_copy(e);
    add_copy(cur);
    bytes = codec::encode(snap);
  }
  b.append(s.cell->stream, to_u16(record_kind::actor_snapshot),
           std::move(bytes));
  ++s.predicted_last;
  b.set_snapshot(s.cell->stream, s.predicted_last);
  if (!o.keep_history)
    b.drop_before(s.cell->stream, s.predicted_last);
  s.since_snapshot = 0;
}

void apply(cell_actor* self, mutation& m) {
  auto& s = self->state;
  auto& c = *s.cell;
  if (m.value)
    m.args = m.method->encode_tuple(m.value.get());
  auto a = m.value ? m.method->apply_tuple(s.head.get(), m.value.get())
                   : m.method->apply(s.head.get(), m.args);
  m.value.reset();
  if (a.graph && s.sub) {
    m.done->complete({errc::conflict,
                      fmt::format("actor '{}': method '{}' returned a "
                                  "sub-workflow while another one runs",
                                  c.id, m.method->name)},
                     {});
    return;
  }
  auto& b = batch_of(s);
  in_flight e;
  e.key = m.key;
  e.done = m.done;
  if (!a.error_type.empty()) {
    b.append(c.stream, to_u16(record_kind::actor_call_failed),
             codec::encode(actor_records::failed{m.key, m.method->name,
                                                 {m.args}, a.error_type,
                                                 a.error_text}));
    e.outcome = remembered{false, {}, method_error(c.id, m.method->name,
                                                   a.error_type, a.error_text)};
  } else {
    actor_records::called rec{m.key, m.method->name, {std::move(m.args)},
                              {a.result}, {c.cls->encode(a.state.get())},
                              {}};
    if (a.graph) {
      rec.workflow = fmt::format("{}/{}", c.stream, m.key);
      e.graph = std::move(a.graph);
      e.workflow = rec.workflow;
      s.sub = sub_call{m.key, rec.workflow, {}};
    } else {
      e.outcome = remembered{true, std::move(a.result), {}};
    }
    b.append(c.stream, to_u16(record_kind::actor_called), codec::encode(rec));
    e.state = a.state;
    s.head = std::move(a.state);
  }
  ++s.predicted_last;
  maybe_snapshot(s, b, e);
  submit(self, std::move(e));
}

void on_mutation(cell_actor* self, mutation m) {
  auto& s = self->state;
  if (s.stopping) {
    m.done->complete({errc::closed, "the engine is shutting down"}, {});
    return;
  }
  if (auto r = s.keys.find(m.key)) {
    reply(*m.done, *r);
    return;
  }
  for (auto& e : s.pending)
    if (e.key == m.key) {
      e.followers.push_back(m.done);
      return;
    }
  if (s.sub && s.sub->key == m.key) {
    s.sub->waiters.push_back(m.done);
    return;
  }
  if (s.sub && !m.reentrant) {
    s.waiting.push_back(std::move(m));
    return;
  }
  apply(self, m);
}

// Several calls in one message: applied in order, logged in one commit.
void on_mutations(cell_actor* self, std::vector<mutation>& ms) {
  auto& s = self->state;
  ++s.grouping;
  for (auto& m : ms)
    on_mutation(self, std::move(m));
  --s.grouping;
  flush(self);
}

void sub_finished(cell_actor* self, const sub_done& d) {
  auto& s = self->state;
  if (!s.sub || s.sub->workflow != d.workflow || s.stopping)
    return;
  if (d.error == errc::closed)
    return; // the engine stops; the call resumes on the next activation
  in_flight e;
  e.key = s.sub->key;
  e.followers = std::move(s.sub->waiters);
  e.outcome = d.error ? remembered{true, d.bytes, {}}
                      : remembered{false, {},
                                   fmt::format("actor '{}': sub-workflow "
                                               "'{}' failed: {}",
                                               s.cell->id, d.workflow,
                                               d.error.message())};
  auto& b = batch_of(s);
  b.append(s.cell->stream, to_u16(record_kind::actor_call_completed),
           codec::encode(actor_records::completed{
             e.key, d.workflow, e.outcome->ok, {e.outcome->result},
             e.outcome->error}));
  ++s.predicted_last;
  s.sub.reset();
  maybe_snapshot(s, b, e);
  submit(self, std::move(e));
  drain_waiting(self);
}

void start_sub(cell_actor* self, std::shared_ptr<node> graph,
               const std::string& wf) {
  auto& s = self->state;
  auto r = s.svc->eng->submit(std::move(graph), wf, {});
  if (!r) {
    sub_finished(self, sub_done{wf, r.error(), {}});
    return;
  }
  s.svc->watch(caf::actor{self}, wf, std::move(*r));
}

// After a restart: the call whose sub-workflow had not ended is resumed;
// when its workflow was never stored the method is applied again to the
// state it saw (methods are deterministic) to rebuild the graph.
void recover_sub(cell_actor* self, const pending_sub& p) {
  auto& s = self->state;
  s.sub = sub_call{p.key, p.workflow, {}};
  auto r = s.svc->eng->try_resume(p.workflow);
  if (r) {
    s.svc->watch(caf::actor{self}, p.workflow, r->state());
    return;
  }
  if (r.error() == errc::busy) {
    s.svc->watch(caf::actor{self}, p.workflow, nullptr);
    return;
  }
  if (r.error() != errc::not_found) {
    sub_finished(self, sub_done{p.workflow, r.error(), {}});
    return;
  }
  auto* m = s.cell->cls->find(p.method);
  auto a = m && m->apply ? m->apply(p.before.get(), p.args) : applied{};
  if (!a.graph) {
    sub_finished(self, sub_done{p.workflow,
                                {errc::not_found,
                                 "cannot rebuild the sub-workflow of method '"
                                   + p.method + "'"},
                                {}});
    return;
  }
  start_sub(self, std::move(a.graph), p.workflow);
}

void committed(cell_actor* self, std::uint64_t no, bool ok,
               const std::string& err) {
  auto& s = self->state;
  auto e = std::move(s.pending.front());
  s.pending.pop_front();
  (void) no; // == e.no: the log acknowledges in submission order
  if (ok) {
    s.committed_last = e.last_after;
    if (e.state)
      s.committed = e.state;
    if (e.outcome) {
      for (auto& f : e.followers)
        reply(*f, *e.outcome);
      s.keys.put(std::move(e.key), std::move(*e.outcome));
      auto& o = s.svc->opts;
      if (s.keys.size() > std::size_t{o.key_window} + o.snapshot_every)
        s.keys.trim(std::size_t{o.key_window} + o.snapshot_every / 2);
    } else if (s.sub && s.sub->workflow == e.workflow) {
      if (e.done)
        s.sub->waiters.push_back(std::move(e.done));
      for (auto& f : e.followers)
        s.sub->waiters.push_back(std::move(f));
      if (!s.stopping)
        start_sub(self, std::move(e.graph), e.workflow);
    }
  } else {
    status st{errc::io, fmt::format("actor '{}': its call could not be "
                                    "logged: {}",
                                    s.cell->id, err)};
    if (e.doomed)
      st = {errc::io, fmt::format("actor '{}': an earlier call could not be "
                                  "logged, so this one was not: {}",
                                  s.cell->id, err)};
    else {
      // Roll back to the last durable state; the batches behind this one
      // were built on it and fail their expect_last check.
      s.head = s.committed;
      s.predicted_last = s.committed_last;
      for (auto& later : s.pending)
        later.doomed = true;
    }
    if (e.done)
      e.done->complete(st, {});
    for (auto& f : e.followers)
      f->complete(st, {});
    if (s.sub && s.sub->workflow == e.workflow && !e.workflow.empty()) {
      for (auto& w : s.sub->waiters)
        w->complete(st, {});
      s.sub.reset();
      drain_waiting(self);
    }
  }
  if (s.stopping && s.pending.empty())
    finish(self);
}

void on_idle(cell_actor* self) {
  auto& s = self->state;
  auto timeout = s.svc->opts.idle_timeout;
  auto since = std::chrono::nanoseconds{mono_ns() - s.cell->last_used.load()};
  bool busy = !s.pending.empty() || s.sub || !s.waiting.empty();
  if (s.stopping)
    return;
  if (busy || since < timeout) {
    auto wait = busy ? timeout
                     : std::chrono::duration_cast<std::chrono::milliseconds>(
                         timeout - since);
    self->delayed_send(self, std::max(wait, std::chrono::milliseconds{1}),
                       aidle_atom::value);
    return;
  }
  {
    std::lock_guard guard{s.cell->mu};
    if (s.cell->sent != s.cell->received.load()) {
      // A call is in the mailbox; come back after it.
      self->delayed_send(self, std::chrono::milliseconds{1}, aidle_atom::value);
      return;
    }
  }
  finish(self);
}

caf::behavior cell_behavior(cell_actor* self, std::shared_ptr<actor_cell> cell,
                            std::shared_ptr<loaded_actor> loaded) {
  auto& s = self->state;
  s.cell = std::move(cell);
  s.svc = s.cell->svc.get();
  s.head = s.committed = loaded->state;
  s.committed_last = s.predicted_last = loaded->last_seq;
  s.since_snapshot = loaded->since_snapshot;
  s.keys = std::move(loaded->keys);
  self->delayed_send(self, s.svc->opts.idle_timeout, aidle_atom::value);
  if (loaded->pending)
    recover_sub(self, *loaded->pending);
  return {
    [=](const std::shared_ptr<mutation>& m) {
      self->state.cell->received.fetch_add(1);
      on_mutation(self, std::move(*m));
    },
    [=](const std::shared_ptr<std::vector<mutation>>& ms) {
      self->state.cell->received.fetch_add(1);
      on_mutations(self, *ms);
    },
    [=](acommit_atom, std::uint64_t first, std::uint64_t count, bool ok,
        const std::string& err) {
      // One message per group: its calls complete in order.
      for (std::uint64_t i = 0; i < count && !self->state.pending.empty(); ++i)
        committed(self, first + i, ok, err);
    },
    [=](const std::shared_ptr<sub_done>& d) { sub_finished(self, *d); },
    [=](aidle_atom) { on_idle(self); },
    [=](astop_atom) {
      auto& st = self->state;
      st.stopping = true;
      status closed{errc::closed, "the engine is shutting down"};
      for (auto& m : st.waiting)
        m.done->complete(closed, {});
      st.waiting.clear();
      if (st.sub)
        for (auto& w : st.sub->waiters)
          w->complete(closed, {});
      if (st.pending.empty())
        finish(self);
    },
  };
}

// Loads (or creates) the actor of `c` and spawns its CAF actor.
// @pre c.mu is held and !c.active
status activate(actor_cell& c,
                const std::function<std::shared_ptr<const void>()>* make) {
  auto& svc = *c.svc;
  auto loaded = load_actor(*svc.log, c.stream, *c.cls);
  if (!loaded && loaded.error() == errc::not_found && make) {
    auto init = (*make)();
    eventlog::write_batch b;
    b.create(c.stream, eventlog::stream_kind::actor,
             codec::encode(actor_records::actor_meta{c.cls->name,
                                                     c.cls->signature}));
    b.expect_last(c.stream, 0);
    b.append(c.stream, to_u16(record_kind::actor_created),
             codec::encode(actor_records::created{
               c.cls->name, c.cls->signature, {c.cls->encode(init.get())}}));
    auto r = svc.log->commit(std::move(b));
    if (!r)
      return r.error();
    loaded_actor la;
    la.state = std::move(init);
    la.last_seq = r->seqs.back();
    la.since_snapshot = 1;
    loaded = std::move(la);
  }
  if (!loaded)
    return loaded.error();
  {
    std::lock_guard guard{svc.mu};
    if (svc.closing)
      return {errc::closed, "the engine is shutting down"};
    ++svc.live;
  }
  c.snapshot.store(loaded->state);
  c.sent = 0;
  c.received = 0;
  c.last_used = mono_ns();
  // spawn() leaves a thread-local reference to CAF's logger on the calling
  // thread; on a thread that outlives the actor system (a step pool
  // thread) it would keep ~actor_system() waiting forever.
  bool had_logger = caf::logger::current_logger() != nullptr;
  auto hdl = svc.sys->spawn(cell_behavior, c.shared_from_this(),
                            std::make_shared<loaded_actor>(std::move(*loaded)));
  if (!had_logger)
    caf::logger::set_current_actor_system(nullptr);
  c.actor = std::make_shared<caf::actor>(std::move(hdl));
  c.active = true;
  svc.activations->inc();
  return {};
}

} // namespace

// -- entry points ------------------------------------------------------------------

result<std::shared_ptr<actor_cell>> resolve_actor(
  engine& eng, std::string_view id, const actor_class& cls,
  const std::function<std::shared_ptr<const void>()>* make_initial) {
  auto svc = service_of(eng);
  if (id.empty())
    return unexpected{errc::invalid_argument, "an actor id must not be empty"};
  auto stream = stream_of(id);
  if (auto bad = eventlog::check_stream_id(stream); !bad.empty())
    return unexpected{errc::invalid_argument,
                      fmt::format("bad actor id '{}': {}", id, bad)};
  std::shared_ptr<actor_cell> cell;
  {
    std::lock_guard guard{svc->mu};
    if (svc->closing)
      return unexpected{errc::closed, "the engine is shutting down"};
    svc->used = true;
    auto& w = svc->dir[std::string{id}];
    cell = w.lock();
    if (!cell) {
      cell = std::make_shared<actor_cell>();
      cell->svc = svc;
      cell->id = std::string{id};
      cell->stream = std::move(stream);
      cell->cls = &cls;
      w = cell;
    }
  }
  if (cell->cls != &cls)
    return unexpected{errc::type_mismatch,
                      fmt::format("actor '{}' is of class '{}', not '{}'", id,
                                  cell->cls->name, cls.name)};
  std::lock_guard guard{cell->mu};
  if (!cell->active)
    if (auto st = activate(*cell, make_initial); !st)
      return st;
  return cell;
}

result<std::shared_ptr<const void>> committed_state(actor_cell& c) {
  c.svc->readonly_calls->inc();
  auto now = mono_ns();
  // Written at most once a millisecond: readers on many threads would
  // otherwise fight over this cache line.
  if (now - c.last_used.load(std::memory_order_relaxed) > 1'000'000)
    c.last_used.store(now, std::memory_order_relaxed);
  if (auto s = c.snapshot.load())
    return s;
  std::lock_guard guard{c.mu};
  if (!c.active)
    if (auto st = activate(c, nullptr); !st)
      return st;
  if (auto s = c.snapshot.load())
    return s;
  return unexpected{errc::closed, "the engine is shutting down"};
}

void submit_mutation(actor_cell& c, mutation m) {
  c.last_used.store(mono_ns(), std::memory_order_relaxed);
  const auto& wf = this_step::workflow_id();
  m.reentrant = wf.size() > c.stream.size() && wf.starts_with(c.stream)
                && wf[c.stream.size()] == '/';
  auto done = m.done;
  c.svc->mutating_calls->inc();
  std::lock_guard guard{c.mu};
  if (!c.active)
    if (auto st = activate(c, nullptr); !st) {
      done->complete(std::move(st), {});
      return;
    }
  ++c.sent;
  caf::anon_send(*handle_of(c), std::make_shared<mutation>(std::move(m)));
}

void submit_mutations(actor_cell& c, std::vector<mutation> ms) {
  if (ms.empty())
    return;
  c.last_used.store(mono_ns(), std::memory_order_relaxed);
  const auto& wf = this_step::workflow_id();
  bool reentrant = wf.size() > c.stream.size() && wf.starts_with(c.stream)
                   && wf[c.stream.size()] == '/';
  for (auto& m : ms)
    m.reentrant = reentrant;
  c.svc->mutating_calls->inc(ms.size());
  std::lock_guard guard{c.mu};
  if (!c.active)
    if (auto st = activate(c, nullptr); !st) {
      for (auto& m : ms)
        m.done->complete(st, {});
      return;
    }
  ++c.sent;
  caf::anon_send(*handle_of(c),
                 std::make_shared<std::vector<mutation>>(std::move(ms)));
}

const std::string& cell_id(const actor_cell& c) {
  return c.id;
}

} // namespace perdure::detail

namespace perdure {

status configure_actors(engine& eng, actor_options opts) {
  auto svc = detail::service_of(eng);
  std::lock_guard guard{svc->mu};
  if (svc->used)
    return {errc::busy, "configure_actors: actors of this engine are in use "
                        "already; configure them first"};
  svc->opts = opts;
  return {};
}

std::size_t active_actors(engine& eng) {
  auto svc = detail::service_of(eng);
  std::lock_guard guard{svc->mu};
  return svc->live;
}

} // namespace perdure
