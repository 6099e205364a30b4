// SPDX-License-Identifier: Apache-2.0
// Step attempts of the workflow actor (workflow_actor.cpp): starting an
// attempt in the step pool or arming its event wait, telling event sources
// what is durable, and the per-attempt step timeouts.

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
    std::lock_guard guard{s.st->mu};
    auto& run = *s.st->run;
    auto& n = run.at(node);
    if (n.def->deadline && !n.due) {
      auto due = n.def->deadline(inputs);
      if (!due) {
        fail_now("perdure::invalid_argument", due.error().message());
        return;
      }
      plan p;
      run.set_due(node, *due, p);
      p.dispatches.push_back({node, attempt, {}});
      submit(self, std::move(p));
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

void start_attempt(workflow_actor* self, std::uint32_t node, int attempt) {
  auto& s = self->state;
  std::shared_ptr<const step_def> def;
  std::vector<input> inputs;
  std::string step_id;
  demand need;
  std::chrono::milliseconds limit{0}; // the first timeout check
  {
    std::lock_guard guard{s.st->mu};
    auto& run = *s.st->run;
    auto& n = run.at(node);
    if (run.end() != run_end::none || s.stopping || !s.fatal || n.dead
        || s.continuing || s.st->cancel_flag->load()
        || n.state != step_state::running || n.attempt != attempt)
      return;
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
      return;
    }
    inputs = std::move(*in);
  }
  if (!def->source_name.empty()) {
    arm_event(self, node, attempt, std::move(inputs));
    return;
  }
  ++s.running;
  auto& link = s.links.emplace_back(std::make_shared<attempt_link>(
    [hdl = caf::actor{self}, node, attempt,
     gen = s.gen](std::shared_ptr<step_done> d) {
      d->gen = gen;
      caf::anon_send(hdl, done_atom::value, node, attempt, std::move(d));
    },
    &s.eng->m, node, attempt));
  attempt_job job{link, std::move(def), std::move(inputs), s.st->id,
                  std::move(step_id),
                  cancellation_token{s.st->cancel_flag, link->stop},
                  s.eng->blobs};
  if (limit.count() > 0)
    self->delayed_send(self, limit, timeout_atom::value, node, attempt,
                       s.gen);
  auto label = job.label();
  s.eng->pool->submit(std::move(need), std::move(job), s.st->cancel_flag,
                      std::move(label));
}

// The step timeout of `node`'s attempt came: fails the attempt when its
// body ran that long (cut, token set; retried as any failure), else looks
// again when it could.
void check_timeout(workflow_actor* self, std::uint32_t node, int attempt) {
  auto& s = self->state;
  auto it = std::find_if(s.links.begin(), s.links.end(), [&](auto& l) {
    return l->node == node && l->attempt == attempt;
  });
  if (it == s.links.end())
    return; // its result came first
  std::chrono::milliseconds limit, hb;
  {
    std::lock_guard guard{s.st->mu};
    limit = s.st->run->at(node).opts.timeout;
    hb = s.st->run->at(node).opts.heartbeat_timeout;
  }
  using std::chrono::nanoseconds;
  auto left = limit.count() > 0 ? (*it)->left(limit) : nanoseconds::max();
  auto beat = hb.count() > 0 ? (*it)->beat_left(hb) : nanoseconds::max();
  if (left.count() > 0 && beat.count() > 0) {
    auto next = std::min(left, beat);
    self->delayed_send(self, std::chrono::ceil<std::chrono::milliseconds>(next),
                       timeout_atom::value, node, attempt, s.gen);
    return;
  }
  auto link = *it;
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
