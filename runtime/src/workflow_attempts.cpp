// SPDX-License-Identifier: Apache-2.0
// Step attempts of the workflow actor (workflow_actor.cpp): starting an
// attempt in the step pool (a local step's on the actor's own thread) or
// arming its event wait, telling event sources what is durable, and the
// per-attempt step timeouts.

#include "workflow_actor_state.hpp"

#include <algorithm>

namespace perdure::detail {

namespace {

// Arms the wait of event node `node`: first fixes and logs its deadline
// when it has one; holds no thread while it waits.
void arm_event(workflow_actor* self, std::uint32_t node, int attempt,
               std::vector<input> inputs) {
  auto& s = self->state;
  auto fail_now = [&](std::string type, std::string text) {
    auto d = std::make_shared<step_done>();
    d->out = outcome::failure(std::move(type), std::move(text));
    d->event = true;
    d->gen = s.gen;
    self->send(self, done_atom::value, node, attempt, d);
  };
  auto w = std::make_shared<event_wait>();
  {
    std::unique_lock guard{s.st->mu};
    auto& run = *s.st->run;
    auto& n = run.at(node);
    if (n.def->deadline && !n.due) {
      auto due = n.def->deadline(inputs);
      if (!due) {
        guard.unlock();
        fail_now("perdure::invalid_argument", due.error().message());
        return;
      }
      plan p;
      run.set_due(node, *due, p);
      p.dispatches.push_back({node, attempt, {}});
      guard.unlock();
      submit(self, std::move(p)); // (takes the lock itself)
      return;
    }
    w->workflow = s.st->id;
    w->step = n.id;
    w->node = node;
    w->attempt = attempt;
    w->def = n.def;
    w->due = n.due;
  }
  auto src = s.eng->source_for(*w->def);
  if (!src) {
    fail_now("perdure::not_found",
             "no event source '" + w->def->source_name + "' in this engine");
    return;
  }
  w->inputs = std::move(inputs);
  // Weak: a source may keep a wait past the actor system (abandoned poll).
  // A dropped wait's result goes nowhere (a direct event, dropped, tells
  // its sender).
  auto send = [addr = self->address(), node, attempt, gen = s.gen,
               dropped = w->dropped](std::shared_ptr<step_done> d) {
    auto hdl = caf::actor_cast<caf::actor>(addr);
    if (dropped->load() || !hdl)
      return;
    d->event = true;
    d->gen = gen;
    caf::anon_send(hdl, done_atom::value, node, attempt, std::move(d));
  };
  w->deliver = [send](outcome out,
                      std::vector<std::pair<std::string, std::int64_t>>
                        offsets) {
    auto d = std::make_shared<step_done>();
    d->out = std::move(out);
    d->offsets = std::move(offsets);
    send(std::move(d));
  };
  w->deliver_direct = [send](outcome out, std::shared_ptr<direct_event> ev) {
    auto d = std::make_shared<step_done>();
    d->out = std::move(out);
    d->direct = std::move(ev);
    send(std::move(d));
  };
  w->stored_offset = [log = std::weak_ptr<eventlog::event_log>{s.eng->log}](
                       const std::string& key)
    -> result<std::optional<std::int64_t>> {
    auto l = log.lock();
    if (!l)
      return unexpected{errc::closed, "the engine's log is closed"};
    return l->offset(key);
  };
  s.waits.push_back(w);
  src->arm(std::move(w));
}

} // namespace

// Tells the sources of `nodes` that their events are durable.
void notify_checkpointed(workflow_actor* self,
                         const std::vector<std::uint32_t>& nodes) {
  auto& s = self->state;
  for (auto i : nodes) {
    event_wait w;
    std::shared_ptr<const std::string> out;
    {
      std::lock_guard guard{s.st->mu};
      auto& n = s.st->run->at(i);
      if (!n.def || !n.output)
        continue;
      w.workflow = s.st->id;
      w.step = n.id;
      w.node = i;
      w.def = n.def;
      w.due = n.due;
      out = n.output;
    }
    if (auto src = s.eng->source_for(*w.def))
      src->checkpointed(w, *out);
  }
}

namespace {

// Whether attempt `attempt` of `node` may start now. Under the run's lock.
bool may_start(const workflow_state& s, const workflow_run& run,
               std::uint32_t node, int attempt) {
  auto& n = run.at(node);
  return run.end() == run_end::none && !s.stopping && s.fatal && !n.dead
         && !s.continuing && !s.st->cancel_flag->load()
         && n.state == step_state::running && n.attempt == attempt;
}

// Starts or readies attempt `attempt` of `node`. Once its batch is durable
// (`at_commit`) an event node's wait is armed; before, event nodes and
// local steps are left for then (false is returned, nothing done). A
// step's attempt is linked to the actor, its timeout armed (a pooled
// one's), and put in `out`.
bool prepare(workflow_actor* self, std::uint32_t node, int attempt,
             bool at_commit, std::optional<ready_attempt>& out) {
  auto& s = self->state;
  std::shared_ptr<const step_def> def;
  std::vector<input> inputs;
  std::string step_id;
  demand need;
  std::chrono::milliseconds limit{0}; // the first timeout check
  bool local = false;
  {
    std::lock_guard guard{s.st->mu};
    auto& run = *s.st->run;
    auto& n = run.at(node);
    local = n.opts.local && n.def->source_name.empty();
    if ((!n.def->source_name.empty() || local) && !at_commit)
      return false;
    if (!may_start(s, run, node, attempt))
      return true;
    def = n.def;
    step_id = n.id;
    need = {n.opts.cpus, n.opts.gpus, n.opts.custom};
    limit = n.opts.timeout;
    if (auto hb = n.opts.heartbeat_timeout;
        hb.count() > 0 && (limit.count() == 0 || hb < limit))
      limit = hb;
    auto in = run.inputs_of(node, *s.eng->blobs);
    if (!in) {
      auto d = std::make_shared<step_done>();
      d->out = outcome::failure("perdure::not_found", in.error().message());
      d->gen = s.gen;
      self->send(self, done_atom::value, node, attempt, d);
      ++s.running;
      return true;
    }
    inputs = std::move(*in);
  }
  if (!def->source_name.empty()) {
    arm_event(self, node, attempt, std::move(inputs));
    return true;
  }
  ++s.running;
  auto& link = s.links
                 .emplace(attempt_key(node, attempt),
                          std::make_shared<attempt_link>(
                            [hdl = caf::actor{self}, node, attempt,
                             gen = s.gen](std::shared_ptr<step_done> d) {
                              d->gen = gen;
                              caf::anon_send(hdl, done_atom::value, node,
                                             attempt, std::move(d));
                            },
                            &s.eng->m, node, attempt))
                 ->second;
  attempt_job job{link, std::move(def), std::move(inputs), s.st->id,
                  std::move(step_id),
                  cancellation_token{s.st->cancel_flag, link->stop},
                  s.eng->blobs, local};
  // (A local body cannot be preempted: run_local checks it when it
  // returns.)
  if (limit.count() > 0 && !local)
    self->delayed_send(self, limit, timeout_atom::value, node, attempt,
                       s.gen);
  auto label = local ? std::string{} : job.label(); // (names pool jobs)
  out = ready_attempt{std::move(need), std::move(job), s.st->cancel_flag,
                      std::move(label)};
  return true;
}

// Takes back the attempts of `launched` whose bodies have not begun: all
// of them when `all`, else those that may no longer start.
void take_back(workflow_actor* self,
               std::vector<std::shared_ptr<attempt_link>>& launched,
               bool all) {
  auto& s = self->state;
  std::unique_lock<std::mutex> guard;
  std::erase_if(launched, [&](const std::shared_ptr<attempt_link>& l) {
    auto [first, last] = s.links.equal_range(attempt_key(l->node, l->attempt));
    auto it = std::find_if(first, last, [&](auto& e) { return e.second == l; });
    if (it == last)
      return true; // its result came, or it was cut
    if (!all && !guard)
      guard = std::unique_lock{s.st->mu};
    if (!all && may_start(s, *s.st->run, l->node, l->attempt))
      return false;
    if (!l->cut_unbegun())
      return false; // its body runs already: its result comes as any
    s.links.erase(it);
    --s.running;
    return true;
  });
}

// Runs a local step's attempt on the actor's thread; its result comes as
// a pooled one's, through the link, in the next message. One that overran
// its step or heartbeat timeout fails now (its result, already queued, is
// dropped as a late one's).
void run_local(workflow_actor* self, ready_attempt a) {
  auto node = a.job.link->node;
  auto attempt = a.job.link->attempt;
  a.job();
  check_timeout(self, node, attempt, false);
}

} // namespace

void start_attempt(workflow_actor* self, std::uint32_t node, int attempt) {
  std::optional<ready_attempt> a;
  prepare(self, node, attempt, true, a);
  if (a && a->job.local)
    run_local(self, std::move(*a));
  else if (a)
    launch(*self->state.eng->pool, std::move(*a));
}

bool ready_early(workflow_actor* self, std::uint32_t node, int attempt,
                 std::optional<ready_attempt>& out) {
  return prepare(self, node, attempt, false, out);
}

void recheck_launched(workflow_actor* self) {
  for (auto& b : self->state.pending)
    take_back(self, b.launched, false);
}

void drop_launched(workflow_actor* self, pending_batch& b) {
  take_back(self, b.launched, true);
}

// The step timeout of `node`'s attempt came: fails the attempt when its
// body ran that long (cut, token set; retried as any failure), else looks
// again when it could (when `again`).
void check_timeout(workflow_actor* self, std::uint32_t node, int attempt,
                   bool again) {
  auto& s = self->state;
  auto it = s.links.find(attempt_key(node, attempt));
  if (it == s.links.end())
    return; // its result came first
  std::chrono::milliseconds limit, hb;
  {
    std::lock_guard guard{s.st->mu};
    limit = s.st->run->at(node).opts.timeout;
    hb = s.st->run->at(node).opts.heartbeat_timeout;
  }
  using std::chrono::nanoseconds;
  auto& found = *it->second;
  auto left = limit.count() > 0 ? found.left(limit) : nanoseconds::max();
  auto beat = hb.count() > 0 ? found.beat_left(hb) : nanoseconds::max();
  if (left.count() > 0 && beat.count() > 0) {
    if (!again)
      return;
    auto next = std::min(left, beat);
    self->delayed_send(self, std::chrono::ceil<std::chrono::milliseconds>(next),
                       timeout_atom::value, node, attempt, s.gen);
    return;
  }
  auto link = it->second;
  s.links.erase(it);
  link->stop->store(true);
  link->cut();
  --s.running;
  s.cut.emplace_back(node, attempt);
  if (!s.fatal || s.st->cancel_flag->load())
    return;
  plan p;
  {
    std::lock_guard guard{s.st->mu};
    s.st->run->on_timeout(node, attempt, left.count() > 0, p);
  }
  s.st->cv.notify_all();
  submit(self, std::move(p));
}

} // namespace perdure::detail
