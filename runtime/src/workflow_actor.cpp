// SPDX-License-Identifier: Apache-2.0
// The workflow actor, one per live workflow (spawned by actor_host.cpp, the
// other translation unit that includes CAF). It serializes the events of
// its workflow (commits, step results, cancel, stop) and applies them to
// the CAF-free state machine in workflow_run.cpp.

#include "workflow_actor_state.hpp"

#include "perdure/eventlog/records/runs.hpp"

#include <algorithm>

namespace perdure::detail {

void submit(workflow_actor* self, plan p) {
  auto& s = self->state;
  if (p.next) {
    continue_as_new(self, std::move(p));
    return;
  }
  // Race losers: nobody takes their events any more, and their bodies
  // (queued: never started; running: told to stop through their token,
  // and left to finish) are not waited for.
  for (auto node : p.dropped) {
    std::erase_if(s.waits, [&](auto& w) {
      if (w->node != node)
        return false;
      w->dropped->store(true);
      return true;
    });
    std::erase_if(s.links, [&](auto& e) {
      auto& l = e.second;
      if (l->node != node)
        return false;
      l->stop->store(true);
      l->cut();
      --s.running;
      s.cut.emplace_back(l->node, l->attempt);
      return true;
    });
  }
  if (p.batch.empty() && p.dispatches.empty() && !p.ends)
    return;
  auto no = s.next_batch++;
  auto batch = std::move(p.batch);
  p.batch = {};
  if (batch.record_count() > 0) {
    // Only this actor appends to the stream; a record from anyone else
    // (perdure cancel in another process) makes this batch a conflict.
    // (A continue-as-new batch also appends to the old run's archive.)
    auto& run = *s.st->run;
    std::size_t own = 0;
    for (auto& op : batch.ops())
      own += op.what == eventlog::write_batch::op::type::append
             && op.stream == s.st->id;
    batch.expect_last(s.st->id, run.last_seq());
    run.advance(own);
  }
  // A step the batch dispatches is queued in the step pool by the batch's
  // completion, on the thread that made it durable (not after a hop
  // through this actor); event waits, delayed retries and local steps
  // (run on this actor's thread) wait for the commit's message.
  pending_batch pb;
  std::vector<ready_attempt> ready;
  if (!s.continuing)
    std::erase_if(p.dispatches, [&](const dispatch& d) {
      std::optional<ready_attempt> a;
      if (d.delay.count() > 0 || !ready_early(self, d.node, d.attempt, a))
        return false;
      if (a) {
        pb.launched.push_back(a->job.link);
        ready.push_back(std::move(*a));
      }
      return true;
    });
  auto directs = std::move(p.directs);
  bool settles = p.ends || !p.dropped.empty();
  pb.p = std::move(p);
  s.pending.push_back(std::move(pb));
  if (settles)
    recheck_launched(self);
  std::weak_ptr<step_pool> pool; // (the engine may close before the commit)
  if (!ready.empty())
    pool = s.eng->pool;
  // Nothing else of this run in the log, running (beyond the step this
  // batch launches) or waiting for an event (a child, a signal): it waits
  // for this commit, which the log may then sync on this thread (a
  // sequential workflow, a one-step workflow's end). (`pending` would still
  // hold a batch whose commit message is on its way.) A batch launching a
  // fan-out is left to the syncer, whose completion queues the steps while
  // this actor goes on.
  using then = eventlog::event_log::then;
  bool alone_in_log = s.in_log->fetch_add(1) == 0;
  auto after = alone_in_log && ready.size() <= 1
                     && s.running == static_cast<int>(ready.size())
                     && s.waits.empty()
                 ? then::waits
                 : then::goes_on;
  s.eng->log->submit(
    std::move(batch),
    [hdl = caf::actor{self}, no, t0 = std::chrono::steady_clock::now(),
     latency = s.eng->m.commit_seconds, directs = std::move(directs),
     pool = std::move(pool), in_log = s.in_log,
     ready = std::move(ready)](result<eventlog::commit_info> r) mutable {
      in_log->fetch_sub(1); // first: a step launched here may end at once
      if (r && !ready.empty())
        if (auto to = pool.lock())
          for (auto& a : ready)
            launch(*to, std::move(a));
      latency->observe(std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - t0)
                         .count());
      // Their senders return now: the signals are durable (or not
      // stored, with the log's error).
      for (auto& ev : directs)
        ev->finish(r ? status{} : r.error());
      // With its code: a full storage stays `full` for the caller.
      auto code = static_cast<std::uint8_t>(r ? errc::ok : r.error().code());
      caf::anon_send(hdl, commit_atom::value, no, code,
                     r ? std::string{} : r.error().message());
    },
    after);
}

void drop_waits(workflow_actor* self) {
  for (auto& w : self->state.waits)
    w->dropped->store(true);
  self->state.waits.clear();
}

void continue_as_new(workflow_actor* self, plan p) {
  auto& s = self->state;
  // Everything the old run still runs is moot: running bodies see their
  // token, their results (and those of its waits, retries and timeouts,
  // all of an older generation now) are dropped; its armed waits are
  // dropped, so their sources offer what they hold again (a signal not
  // consumed goes to the new run).
  ++s.gen;
  for (auto& [key, l] : s.links) {
    l->stop->store(true);
    l->cut();
  }
  s.links.clear();
  s.cut.clear();
  s.running = 0;
  drop_waits(self);
  s.continuing = std::move(p);
  maybe_continue(self);
}

void maybe_continue(workflow_actor* self) {
  auto& s = self->state;
  if (!s.continuing || !s.pending.empty())
    return;
  auto p = std::move(*s.continuing);
  s.continuing.reset();
  if (s.ended || s.stopping || !s.fatal || s.st->cancel_flag->load())
    return; // the old run stays as logged (resumed, it runs the step again)
  // Every batch of the old run is durable: its records are all readable.
  auto& log = *s.eng->log;
  auto recs = log.read(s.st->id);
  auto kept = records::archived_runs(log, s.st->id);
  if (!recs || !kept) {
    auto& e = !recs ? recs.error() : kept.error();
    s.fatal = {e.code(), "workflow '" + s.st->id
                           + "': cannot read its run to continue it as new: "
                           + e.message()};
    return;
  }
  auto keep = s.eng->opts.keep_runs;
  {
    std::lock_guard guard{s.st->mu};
    auto& old = *s.st->run;
    std::vector<std::uint32_t> stale;
    // Beyond keep_runs, and any left by an earlier workflow of this id.
    for (auto n : *kept)
      if (n + keep <= old.run_number() || n >= old.run_number())
        stale.push_back(n);
    old.continue_into(p, *recs, stale, keep);
    s.st->run = std::make_unique<workflow_run>(std::move(*p.next));
  }
  p.next.reset();
  s.st->cv.notify_all();
  s.eng->m.runs_continued->inc();
  submit(self, std::move(p));
}

namespace {

// True when another process logged a cancel of this workflow: then it ends
// canceled as that record says, writing nothing more (every batch it still
// has in flight fails its expect_last check).
bool canceled_elsewhere(workflow_actor* self) {
  auto& s = self->state;
  if (s.canceled_elsewhere)
    return true;
  auto info = s.eng->log->info(s.st->id);
  if (!info || info->status != "canceled")
    return false;
  s.canceled_elsewhere = true;
  s.st->cancel_flag->store(true); // running bodies see their token
  s.eng->pool->poke();
  drop_waits(self);
  bool changed = false;
  {
    std::lock_guard guard{s.st->mu};
    changed = s.st->run->on_external_cancel();
  }
  s.ended = true;
  if (changed)
    s.eng->m.external_cancels->inc();
  s.st->cv.notify_all();
  return true;
}

} // namespace

void maybe_finish(workflow_actor* self) {
  auto& s = self->state;
  bool over = s.ended || s.stopping || !s.fatal;
  if (over) {
    drop_waits(self);
    recheck_launched(self);
  }
  if (!over || !s.pending.empty())
    return;
  status err;
  std::shared_ptr<const std::string> out;
  {
    std::lock_guard guard{s.st->mu};
    auto& run = *s.st->run;
    // A canceled run (its record durable) does not wait for bodies that
    // ignore their token, nor does a shutdown past its grace time: their
    // links are cut below and their results dropped, never logged.
    bool leave = s.abandon || (s.ended && run.end() == run_end::canceled);
    if (s.running > 0 && !leave)
      return;
    if (!s.fatal)
      err = s.fatal;
    else if (run.end() == run_end::succeeded)
      out = run.at(run.root()).output;
    else if (!run.end_status().is_ok())
      err = run.end_status();
    else
      err = {errc::closed, "the engine stopped before workflow '" + s.st->id
                             + "' finished; resume it with a new engine"};
  }
  {
    std::lock_guard guard{s.st->mu};
    s.st->actor.reset(); // break the cycle handle -> state -> actor
  }
  for (auto& [key, l] : s.links)
    l->cut();
  s.links.clear();
  s.eng->unregister(s.st->id);
  s.st->finish(std::move(err), std::move(out));
  self->quit();
}

namespace {

caf::behavior workflow_behavior(workflow_actor* self,
                                std::shared_ptr<run_state> st,
                                engine::impl* eng,
                                std::shared_ptr<std::vector<dispatch>> begun) {
  self->state.st = std::move(st);
  self->state.eng = eng;
  if (begun) {
    // The first batch was committed by engine::submit_batch.
    for (auto& d : *begun)
      start_attempt(self, d.node, d.attempt);
  } else {
    plan p;
    {
      std::lock_guard guard{self->state.st->mu};
      self->state.st->run->begin(p);
    }
    submit(self, std::move(p)); // (takes the lock itself)
  }
  return {
    [=](commit_atom, std::uint64_t, std::uint8_t code, const std::string& e) {
      auto& s = self->state;
      auto b = std::move(s.pending.front());
      s.pending.pop_front();
      auto& p = b.p;
      if (code != static_cast<std::uint8_t>(errc::ok)) {
        drop_launched(self, b); // never queued
        if (!canceled_elsewhere(self))
          s.fatal = {static_cast<errc>(code),
                     "workflow '" + s.st->id + "': cannot write its log: " + e};
      } else {
        if (p.ends)
          s.ended = true;
        if (!p.checkpointed.empty())
          notify_checkpointed(self, p.checkpointed);
        // (While a continue-as-new waits, the old run starts nothing.)
        for (auto& d : p.dispatches) {
          if (s.continuing)
            break;
          if (d.delay.count() > 0)
            self->delayed_send(self, d.delay, dispatch_atom::value, d.node,
                               d.attempt, s.gen);
          else
            start_attempt(self, d.node, d.attempt);
        }
      }
      maybe_continue(self);
      maybe_finish(self);
    },
    [=](dispatch_atom, std::uint32_t node, int attempt, std::uint64_t gen) {
      if (current(self->state, gen))
        start_attempt(self, node, attempt);
      maybe_finish(self);
    },
    [=](done_atom, std::uint32_t node, int attempt,
        const std::shared_ptr<step_done>& d) {
      auto& s = self->state;
      if (d->gen != s.gen) { // of a run that continued as new: moot
        maybe_finish(self);
        return;
      }
      std::shared_ptr<event_wait> wait; // the event's wait, if still armed
      if (!d->event) {
        auto c = std::find(s.cut.begin(), s.cut.end(),
                           std::pair<std::uint32_t, int>{node, attempt});
        if (c != s.cut.end()) {
          s.cut.erase(c);
          maybe_finish(self);
          return;
        }
        --s.running;
        s.links.erase(attempt_key(node, attempt));
      } else {
        auto it = std::find_if(s.waits.begin(), s.waits.end(), [&](auto& w) {
          return w->node == node && w->attempt == attempt;
        });
        if (it != s.waits.end()) {
          wait = std::move(*it);
          s.waits.erase(it);
        }
      }
      bool taken = false; // the event goes into the log
      // Once canceled, results are moot; the cancel message is on its way
      // (the flag is set before it is sent).
      if (s.fatal && !s.st->cancel_flag->load()) {
        plan p;
        {
          std::lock_guard guard{s.st->mu};
          if (d->event) {
            taken = s.st->run->on_event(node, attempt, std::move(d->out),
                                        d->offsets, p);
            if (taken && d->direct) {
              d->direct->add_to(p.batch);
              p.directs.push_back(std::move(d->direct));
            }
          } else {
            s.st->run->on_result(node, attempt, std::move(d->out),
                                 std::move(d->blobs), p, d->started);
          }
        }
        s.st->cv.notify_all();
        submit(self, std::move(p));
      }
      // A source that handed an event nobody took (canceled, stopped,
      // stale attempt) learns it through `dropped` and offers it again.
      if (wait && !taken)
        wait->dropped->store(true);
      maybe_finish(self);
    },
    [=](cancel_atom) {
      auto& s = self->state;
      plan p;
      s.continuing.reset(); // the old run is canceled instead
      drop_waits(self);
      {
        std::lock_guard guard{s.st->mu};
        s.st->run->on_cancel(p);
      }
      submit(self, std::move(p));
      maybe_finish(self);
    },
    [=](check_atom) {
      auto& s = self->state;
      if (s.ended || s.stopping || !s.fatal)
        return;
      if (canceled_elsewhere(self))
        maybe_finish(self);
    },
    [=](timeout_atom, std::uint32_t node, int attempt, std::uint64_t gen) {
      if (current(self->state, gen))
        check_timeout(self, node, attempt);
      maybe_finish(self);
    },
    [=](abandon_atom) { self->state.abandon = true; maybe_finish(self); },
    [=](stop_atom) {
      auto& s = self->state;
      s.stopping = true;
      s.continuing.reset(); // resumed, the old run runs the step again
      drop_waits(self);
      {
        std::lock_guard guard{s.st->mu};
        s.st->run->on_stop();
      }
      maybe_finish(self);
    },
  };
}

} // namespace

caf::actor spawn_workflow(caf::actor_system& sys, std::shared_ptr<run_state> st,
                          engine::impl& eng, std::vector<dispatch>* begun) {
  std::shared_ptr<std::vector<dispatch>> first;
  if (begun)
    first = std::make_shared<std::vector<dispatch>>(std::move(*begun));
  return sys.spawn(workflow_behavior, std::move(st), &eng, std::move(first));
}

} // namespace perdure::detail
