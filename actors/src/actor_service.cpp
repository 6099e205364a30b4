// SPDX-License-Identifier: Apache-2.0
// The per-engine actor service: the directory (id -> cell), activation,
// the watchers of sub-workflows, the entry points of actor_ref, and a
// shutdown bounded by engine_options::stop_timeout.

#include "actor_runner.hpp"

#include "perdure/eventlog/log_sink.hpp"

#include <fmt/format.h>
#include <thread>

namespace perdure::detail {

actor_service::~actor_service() {
  join_waiters(false);
}

void actor_service::stop() {
  auto deadline = actor_pool::clock::now() + stop_timeout;
  out->stop();
  std::vector<std::shared_ptr<actor_cell>> cells;
  {
    std::lock_guard guard{mu};
    closing = true;
    for (auto& [id, w] : dir)
      if (auto c = w.lock())
        cells.push_back(std::move(c));
  }
  stopping = true;
  std::vector<std::shared_ptr<cell_runner>> runners;
  for (auto& c : cells) {
    std::lock_guard guard{c->mu};
    if (c->runner)
      runners.push_back(c->runner);
  }
  cells.clear();
  for (auto& r : runners)
    r->begin_stop();
  for (auto& r : runners)
    r->stop();
  bool all;
  {
    std::unique_lock guard{mu};
    all = idle.wait_until(guard, deadline, [&] { return live == 0; });
  }
  if (!all) {
    // Methods that did not return (blocked in user code): their callers
    // got `closed`, nothing of theirs is logged; abandoned.
    std::string names;
    std::size_t n = 0;
    for (auto& r : runners) {
      auto m = r->running_method();
      if (m.empty())
        continue;
      ++n;
      names += fmt::format("\n  actor '{}' method '{}'", r->s.cell->id, m);
    }
    // None listed: they returned since the wait ended (nothing abandoned).
    // The storage is not held for them: the engine gives it up all the
    // same (~engine), and what they write when they return fails closed.
    if (n > 0)
      eventlog::emit(
        eng->options().log, eventlog::log_level::warning,
        fmt::format("the engine on '{}' stopped without waiting for {} "
                    "actor method{} that did not return (their callers got "
                    "'closed'; nothing of them is logged, so repeating the "
                    "calls runs them; what they write when they return "
                    "fails 'closed'):{}",
                    eng->storage().string(), n, n == 1 ? "" : "s", names));
  }
  runners.clear();
  join_waiters(false);
  pool->shutdown(std::max(deadline, actor_pool::clock::now()));
}

void actor_service::actor_quit() {
  {
    std::lock_guard guard{mu};
    --live;
  }
  idle.notify_all();
}

void actor_service::watch(std::shared_ptr<cell_runner> r, std::string wf,
                          std::shared_ptr<run_state> st) {
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard guard{waiters_mu_};
  join_waiters(true);
  waiters_.emplace_back(
    std::thread{[this, r, wf = std::move(wf), st, finished] {
      using namespace std::chrono_literals;
      // Polls with a timeout so that stop() never waits for a workflow:
      // services stop before the engine stops its workflows.
      while (!stopping) {
        sub_done d;
        d.workflow = wf;
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
          d.bytes = std::move(*out);
        else
          d.error = out.error();
        r->post(std::move(d));
        break;
      }
      finished->store(true);
    }},
    finished);
}

void actor_service::join_waiters(bool only_finished) {
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

actor_cell::~actor_cell() {
  if (!svc)
    return;
  std::lock_guard guard{svc->mu};
  if (auto i = svc->dir.find(id); i != svc->dir.end() && i->second.expired())
    svc->dir.erase(i);
}

namespace {

std::shared_ptr<actor_service> service_of(engine& eng) {
  return eng.service<actor_service>([&eng] {
    auto svc = std::make_shared<actor_service>();
    svc->eng = &eng;
    svc->log = eng.event_log();
    svc->submit_to_log = [log = svc->log.get()](
                           eventlog::write_batch b,
                           eventlog::event_log::completion done,
                           eventlog::event_log::then after) {
      log->submit(std::move(b), std::move(done), after);
    };
    svc->stop_timeout = eng.options().stop_timeout;
    svc->pool = std::make_unique<actor_pool>(eng.options().actor_threads,
                                             svc->opts.max_blocked_calls);
    svc->out = std::make_unique<outbox>(*svc, svc);
    auto& reg = eng.metrics();
    svc->activations = &reg.get_counter(
      "perdure_actor_activations_total",
      "Virtual actors loaded from the log into memory (created or "
      "reactivated).");
    svc->readonly_calls = &reg.get_counter(
      "perdure_actor_calls_total", "Virtual actor method calls by kind.",
      {{"kind", "readonly"}});
    svc->mutating_calls = &reg.get_counter(
      "perdure_actor_calls_total", "Virtual actor method calls by kind.",
      {{"kind", "mutating"}});
    return svc;
  });
}

// Loads (or creates) the actor of `c` and starts its runner.
// @pre c.mu is held and !c.active
status activate(actor_cell& c,
                const std::function<std::shared_ptr<const void>()>* make) {
  auto& svc = *c.svc;
  auto loaded = load_actor(*svc.log, c.stream, *c.cls);
  if (!loaded && loaded.error() == errc::not_found && make) {
    auto init = (*make)();
    eventlog::write_batch b;
    b.create(c.stream, eventlog::stream_kind::actor,
             codec::encode(meta_of(*c.cls)));
    b.expect_last(c.stream, 0);
    b.append(c.stream, eventlog::to_u16(eventlog::record_kind::actor_created),
             codec::encode(actor_records::created{
               c.cls->name, c.cls->signature, {c.cls->encode(init.get())}}));
    auto r = svc.log->commit(std::move(b));
    // A conflict here is the log's, not the caller's: another creation of
    // the stream came first, or a replicated log refused this owner's
    // write (its partition moved). Either way nothing was created and a
    // later try finds the actor or reaches the partition's owner: busy,
    // never conflict (a cluster feed takes conflict as a permanent
    // failure and dead-letters the record).
    if (!r && r.error() == errc::conflict)
      return {errc::busy,
              fmt::format("actor '{}' was not created, try again: {}", c.id,
                          r.error().message())};
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
  if (loaded->meta_update) {
    // The class grew compatibly: record what it added, so that a later
    // change of an added method is compared too.
    eventlog::write_batch b;
    b.set_metadata(c.stream, codec::encode(*loaded->meta_update));
    if (auto r = svc.log->commit(std::move(b)); !r)
      return r.error();
  }
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
  auto r = std::make_shared<cell_runner>();
  c.runner = r;
  c.active = true;
  r->start(c.shared_from_this(), std::move(*loaded));
  svc.activations->inc();
  return {};
}

// A mutating call onto an actor in its chain would wait on itself: the
// error naming the cycle; ok when there is none. `chain` becomes the
// running method's chain and that method when one runs on this thread;
// otherwise it is kept (a call that came from another engine carries the
// chain of the methods waiting there).
status check_cycle(const actor_cell& c, const mutation& m,
                   std::shared_ptr<const call_chain>& chain) {
  auto& ctx = current_call();
  if (ctx.actor) {
    auto built = std::make_shared<call_chain>();
    if (ctx.outer)
      *built = *ctx.outer;
    built->emplace_back(*ctx.actor, *ctx.method);
    chain = std::move(built);
  }
  if (!chain)
    return {};
  for (auto& [a, meth] : *chain)
    if (a == c.id) {
      std::string names;
      for (auto& [a2, m2] : *chain)
        names += a2 + "." + m2 + " -> ";
      return {errc::conflict,
              fmt::format("call cycle {}{}.{}: mutating actor methods are not "
                          "reentrant (a call onto an actor whose method waits "
                          "on it would wait forever)",
                          names, c.id, m.method->name)};
    }
  return {};
}

bool reentrant_call(const actor_cell& c) {
  const auto& wf = this_step::workflow_id();
  return wf.size() > c.stream.size() && wf.starts_with(c.stream)
         && wf[c.stream.size()] == '/';
}

} // namespace

// -- entry points ------------------------------------------------------------------

result<std::shared_ptr<actor_cell>> resolve_actor(
  engine& eng, std::string_view id, const actor_class& cls,
  const std::function<std::shared_ptr<const void>()>* make_initial,
  bool with_args) {
  auto svc = service_of(eng);
  if (id.empty())
    return unexpected{errc::invalid_argument, "an actor id must not be empty"};
  auto stream = stream_of(id);
  if (auto bad = eventlog::check_stream_id(stream); !bad.empty())
    return unexpected{errc::invalid_argument,
                      fmt::format("bad actor id '{}': {}", id, bad)};
  if (const auto& remote = eng.options().remote;
      remote && remote->elsewhere(id)) {
    // Reached by its calls where it lives (created there when missing, as
    // that side serves its class); an initial state is not shipped.
    if (with_args)
      return unexpected{errc::invalid_argument,
                        fmt::format("actor '{}' lives in another partition: "
                                    "create it with constructor arguments "
                                    "on its owner (calls from here create a "
                                    "missing actor with {}{{}})",
                                    id, cls.name)};
    svc->out->learn(cls); // messages to it may be sent from here
    return remote_cell(std::move(svc), id, cls, remote);
  }
  if (const auto& accept = eng.options().accept_id; accept)
    if (auto ok = accept(id); !ok)
      return ok;
  std::shared_ptr<actor_cell> cell;
  bool fresh = false;
  {
    std::lock_guard guard{svc->mu};
    if (svc->closing)
      return unexpected{errc::closed, "the engine is shutting down"};
    svc->used = true;
    auto& w = svc->dir[std::string{id}];
    cell = w.lock();
    if (!cell) {
      fresh = true;
      cell = std::make_shared<actor_cell>();
      cell->svc = svc;
      cell->id = std::string{id};
      cell->stream = std::move(stream);
      cell->cls = &cls;
      w = cell;
    }
  }
  if (fresh)
    svc->out->learn(cls); // what is told to its class may be sent now
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

void post_readonly(actor_cell& c, std::function<void()> f) {
  // A readonly method reaches its engine through this_step::engine().
  f = [eng = c.svc->eng, f = std::move(f)] {
    detail::engine_scope in_engine{*eng};
    f();
  };
  auto& pool = c.svc->pool;
  if (!pool || !pool->post(f))
    f();
}

void submit_mutation(actor_cell& c, mutation m) {
  // Before a remote send too: the chain goes with the call, and its end
  // checks it again (a cycle through other engines).
  if (auto st = check_cycle(c, m, m.chain); !st) {
    m.done->complete(std::move(st), {});
    return;
  }
  if (c.remote) {
    std::vector<mutation> one;
    one.push_back(std::move(m));
    send_remote(c, std::move(one));
    return;
  }
  c.last_used.store(mono_ns(), std::memory_order_relaxed);
  m.reentrant = reentrant_call(c);
  auto done = m.done;
  c.svc->mutating_calls->inc();
  std::lock_guard guard{c.mu};
  if (!c.active)
    if (auto st = activate(c, nullptr); !st) {
      done->complete(std::move(st), {});
      return;
    }
  ++c.sent;
  c.runner->post(std::move(m));
}

void submit_mutations(actor_cell& c, std::vector<mutation> ms) {
  if (ms.empty())
    return;
  std::shared_ptr<const call_chain> chain;
  if (auto st = check_cycle(c, ms.front(), chain); !st) {
    for (auto& m : ms)
      m.done->complete(st, {});
    return;
  }
  for (auto& m : ms)
    m.chain = chain;
  if (c.remote) {
    send_remote(c, std::move(ms));
    return;
  }
  c.last_used.store(mono_ns(), std::memory_order_relaxed);
  bool reentrant = reentrant_call(c);
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
  c.runner->post(std::move(ms));
}

const std::string& cell_id(const actor_cell& c) {
  return c.id;
}

void learn_class(engine& eng, const actor_class& cls) {
  service_of(eng)->out->learn(cls);
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
  svc->pool->set_max_blocked(opts.max_blocked_calls);
  return {};
}

namespace detail {

bool event_feed_on(engine& eng) {
  auto svc = service_of(eng);
  std::lock_guard guard{svc->mu};
  return svc->opts.event_feed;
}

} // namespace detail

std::size_t active_actors(engine& eng) {
  auto svc = detail::service_of(eng);
  std::lock_guard guard{svc->mu};
  return svc->live;
}

} // namespace perdure
