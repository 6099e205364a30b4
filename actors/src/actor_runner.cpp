// SPDX-License-Identifier: Apache-2.0
// A runner's strand (its inbox drained by one pool worker at a time), its
// log acknowledgements, sub-workflows, passivation and stop.

#include "actor_runner.hpp"

#include <fmt/format.h>

namespace perdure::detail {

using eventlog::record_kind;
using eventlog::to_u16;

namespace {

const status& closed_status() {
  static const status st{errc::closed, "the engine is shutting down"};
  return st;
}

void fail_closed(cell_event& e) {
  if (auto* m = std::get_if<mutation>(&e))
    m->done->complete(closed_status(), {});
  else if (auto* ms = std::get_if<std::vector<mutation>>(&e))
    for (auto& x : *ms)
      x.done->complete(closed_status(), {});
}

/// Events handled per turn before the worker goes to other actors.
constexpr int turn = 64;

} // namespace

void cell_runner::post(cell_event e) {
  bool schedule = false;
  bool dropped = false;
  {
    std::lock_guard g{qmu};
    if (quit) {
      dropped = true;
    } else {
      inbox.push_back(std::move(e));
      schedule = !scheduled;
      scheduled = true;
    }
  }
  if (dropped)
    fail_closed(e);
  else if (schedule)
    s.svc->pool->post([self = shared_from_this()] { self->drain(); });
  // A pool that stopped drops the drain: stop() answered the calls.
}

void cell_runner::drain() {
  std::unique_lock lock{smu};
  held = &lock;
  for (int n = 0; n < turn; ++n) {
    cell_event e;
    {
      std::lock_guard g{qmu};
      if (inbox.empty()) {
        scheduled = false;
        held = nullptr;
        return;
      }
      e = std::move(inbox.front());
      inbox.pop_front();
    }
    if (s.finished) {
      fail_closed(e);
      continue;
    }
    handle(e);
    if (s.stopping && !s.finished && s.pending.empty() && !s.running)
      finish(*this);
  }
  held = nullptr;
  lock.unlock();
  // More queued: give other actors' events their turn.
  s.svc->pool->post([self = shared_from_this()] { self->drain(); });
}

namespace {

void on_idle(cell_runner& r) {
  auto& s = r.s;
  auto timeout = s.svc->opts.idle_timeout;
  auto since = std::chrono::nanoseconds{mono_ns() - s.cell->last_used.load()};
  bool busy = !s.pending.empty() || s.sub || !s.waiting.empty();
  if (s.stopping)
    return;
  auto again = [&](std::chrono::nanoseconds d) {
    s.svc->pool->post_after(d, [w = r.weak_from_this()] {
      if (auto x = w.lock())
        x->post(idle_tick{});
    });
  };
  if (busy || since < timeout) {
    auto wait = busy ? std::chrono::nanoseconds{timeout} : timeout - since;
    again(std::max<std::chrono::nanoseconds>(wait, std::chrono::milliseconds{1}));
    return;
  }
  {
    std::lock_guard guard{s.cell->mu};
    if (s.cell->sent != s.cell->received.load()) {
      // A call is in the inbox; come back after it.
      again(std::chrono::milliseconds{1});
      return;
    }
  }
  finish(r);
}

} // namespace

void cell_runner::handle(cell_event& e) {
  std::visit(
    [&](auto& x) {
      using E = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<E, mutation>) {
        s.cell->received.fetch_add(1);
        on_mutation(*this, std::move(x));
      } else if constexpr (std::is_same_v<E, std::vector<mutation>>) {
        s.cell->received.fetch_add(1);
        on_mutations(*this, x);
      } else if constexpr (std::is_same_v<E, commit_ack>) {
        // One event per group: its calls complete in order.
        for (std::uint64_t i = 0; i < x.count && !s.pending.empty(); ++i)
          committed(*this, x.first + i, x.result);
        if (x.result)
          snapshot_between(*this);
      } else if constexpr (std::is_same_v<E, sub_done>) {
        sub_finished(*this, x);
      } else {
        on_idle(*this);
      }
    },
    e);
}

void finish(cell_runner& r) {
  auto& s = r.s;
  if (s.finished)
    return;
  s.finished = true;
  {
    std::lock_guard guard{s.cell->mu};
    if (s.cell->runner.get() == &r) {
      s.cell->active = false;
      s.cell->runner.reset();
      s.cell->snapshot.store(nullptr);
    }
  }
  std::deque<cell_event> left;
  {
    std::lock_guard g{r.qmu};
    r.quit = true;
    left.swap(r.inbox);
  }
  for (auto& e : left)
    fail_closed(e);
  s.svc->actor_quit();
}

void sub_finished(cell_runner& r, const sub_done& d) {
  auto& s = r.s;
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
  submit(r, std::move(e));
  drain_waiting(r);
}

void start_sub(cell_runner& r, std::shared_ptr<node> graph,
               const std::string& wf) {
  auto& s = r.s;
  auto st = s.svc->eng->submit(std::move(graph), wf, {});
  if (!st) {
    sub_finished(r, sub_done{wf, st.error(), {}});
    return;
  }
  s.svc->watch(r.shared_from_this(), wf, std::move(*st));
}

namespace {

// After a restart: the call whose sub-workflow had not ended is resumed;
// when its workflow was never stored the method is applied again to the
// state it saw (methods are deterministic) to rebuild the graph.
void recover_sub(cell_runner& r, const pending_sub& p) {
  auto& s = r.s;
  s.sub = sub_call{p.key, p.workflow, {}};
  auto h = s.svc->eng->try_resume(p.workflow);
  if (h) {
    s.svc->watch(r.shared_from_this(), p.workflow, h->state());
    return;
  }
  if (h.error() == errc::busy) {
    s.svc->watch(r.shared_from_this(), p.workflow, nullptr);
    return;
  }
  if (h.error() != errc::not_found) {
    sub_finished(r, sub_done{p.workflow, h.error(), {}});
    return;
  }
  auto* m = s.cell->cls->find(std::string_view{p.method});
  applied a;
  if (m && m->apply) {
    // What it tells was logged with its call: not again.
    std::vector<actor_records::tell> told;
    call_scope scope{
      {nullptr, &s.cell->id, &m->name, &p.key, 0, &told, s.svc}};
    a = m->apply(p.before.get(), p.args);
  }
  if (!a.graph) {
    sub_finished(r, sub_done{p.workflow,
                             {errc::not_found,
                              "cannot rebuild the sub-workflow of method '"
                                + p.method + "'"},
                             {}});
    return;
  }
  start_sub(r, std::move(a.graph), p.workflow);
}

} // namespace

void cell_runner::start(std::shared_ptr<actor_cell> cell, loaded_actor loaded) {
  std::lock_guard lock{smu};
  s.cell = std::move(cell);
  s.svc = s.cell->svc.get();
  s.head = s.committed = loaded.state;
  s.committed_last = s.predicted_last = loaded.last_seq;
  s.since_snapshot = loaded.since_snapshot;
  s.events_since = loaded.events_since;
  s.event_bytes_since = loaded.event_bytes_since;
  s.snapshot_bytes = loaded.snapshot_bytes;
  s.keys = std::move(loaded.keys);
  s.svc->pool->post_after(s.svc->opts.idle_timeout,
                          [w = weak_from_this()] {
                            if (auto x = w.lock())
                              x->post(idle_tick{});
                          });
  if (loaded.pending)
    recover_sub(*this, *loaded.pending);
}

namespace {

// Reads the actor's state from the log again after a failed commit. A
// failure does not always mean the group was not written: a replicated
// log (cluster mode) may report a group as failed (its acknowledgement
// was lost, it timed out, its owner stepped down) that it still applies.
// Rolled back to the last state it knew, the runner would then build every
// later call on a stream that moved past it, and each would fail its
// expect_last check, forever. The reload takes what the log holds,
// including that call's key: the caller's retry gets its logged result.
void resync(cell_runner& r) {
  auto& s = r.s;
  s.resync_due = false;
  if (!s.svc->log)
    return; // a runner driven on a fake log (actor_sequencing.test.cpp)
  auto loaded = load_actor(*s.svc->log, s.cell->stream, *s.cell->cls);
  if (!loaded || loaded->last_seq == s.committed_last)
    return; // nothing moved (or nothing to read: the next failure retries)
  s.head = s.committed = loaded->state;
  s.committed_last = s.predicted_last = loaded->last_seq;
  s.since_snapshot = loaded->since_snapshot;
  s.events_since = loaded->events_since;
  s.event_bytes_since = loaded->event_bytes_since;
  s.snapshot_bytes = loaded->snapshot_bytes;
  s.keys = std::move(loaded->keys);
  s.applied_seqs.clear(); // read from the log again on their next use
  s.cell->snapshot.store(s.committed);
}

} // namespace

void committed(cell_runner& r, std::uint64_t no, const status& result) {
  auto& s = r.s;
  auto e = std::move(s.pending.front());
  s.pending.pop_front();
  (void) no; // == e.no: the log acknowledges in submission order
  if (result) {
    s.committed_last = e.last_after;
    if (e.state)
      s.committed = e.state;
    if (e.tells)
      s.svc->out->kick(s.cell->id);
    if (!e.seq_offset.empty()) {
      auto& last = s.applied_seqs[e.seq_offset];
      last = std::max(last, e.seq);
    }
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
        start_sub(r, std::move(e.graph), e.workflow);
    }
  } else {
    // The log's code reaches the caller (full, corruption, closed, ...);
    // a conflict is the batch's expect_last check, not the caller's.
    auto code = result.code() == errc::conflict ? errc::io : result.code();
    status st{code, fmt::format("actor '{}': its call could not be "
                                "logged: {}",
                                s.cell->id, result.to_string())};
    if (e.doomed)
      st = {*e.doomed, fmt::format("actor '{}': an earlier call could not "
                                   "be logged, so this one was not: {}",
                                   s.cell->id, result.to_string())};
    else {
      // Roll back to the last durable state; the batches behind this one
      // were built on it and fail their expect_last check.
      s.head = s.committed;
      s.predicted_last = s.committed_last;
      s.resync_due = true;
      for (auto& later : s.pending)
        later.doomed = code;
    }
    if (e.done)
      e.done->complete(st, {});
    for (auto& f : e.followers)
      f->complete(st, {});
    if (s.sub && s.sub->workflow == e.workflow && !e.workflow.empty()) {
      for (auto& w : s.sub->waiters)
        w->complete(st, {});
      s.sub.reset();
      drain_waiting(r);
    }
  }
  if (s.resync_due && s.pending.empty() && !s.sub && !s.group && !s.stopping)
    resync(r);
}

void cell_runner::begin_stop() {
  std::lock_guard lock{smu};
  s.stopping = true;
}

void cell_runner::stop() {
  std::lock_guard lock{smu};
  if (s.finished || !s.cell)
    return;
  s.stopping = true;
  {
    std::lock_guard g{qmu};
    for (auto& e : inbox)
      fail_closed(e);
    std::erase_if(inbox, [](const cell_event& e) {
      return std::holds_alternative<mutation>(e)
             || std::holds_alternative<std::vector<mutation>>(e);
    });
  }
  for (auto& m : s.waiting)
    m.done->complete(closed_status(), {});
  s.waiting.clear();
  if (s.sub)
    for (auto& w : s.sub->waiters)
      w->complete(closed_status(), {});
  // A method still running: its caller is answered now; whatever it
  // returns later is dropped (nothing logged, the call may be repeated).
  if (s.running)
    s.running->complete(closed_status(), {});
  if (s.pending.empty() && !s.running)
    finish(*this);
}

std::string cell_runner::running_method() {
  std::lock_guard lock{smu};
  return s.running_method;
}

} // namespace perdure::detail
