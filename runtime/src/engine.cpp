// SPDX-License-Identifier: Apache-2.0
// The engine's lifetime and runs: opening storage, submitting and
// resuming workflows, run states. Queries and management are in
// engine_query.cpp.

#include "engine_impl.hpp"
#include "signal_source.hpp"
#include "perdure/runtime/signal.hpp"
#include "perdure/eventlog/records/workflow.hpp"
#include "perdure/eventlog/storage_dir.hpp"

#include <cstdlib>
#include <fmt/format.h>
#include <random>
#include <thread>
#include <unistd.h>

namespace perdure {

using detail::run_state;
using detail::workflow_run;

// -- run_state -------------------------------------------------------------------

namespace detail {

void run_state::finish(status st, std::shared_ptr<const std::string> out) {
  std::function<void(const status&)> fn;
  status final;
  {
    // One critical section: a waiter woken below finds the lock free.
    std::lock_guard guard{mu};
    done = true;
    error = std::move(st);
    output = std::move(out);
    fn = std::move(on_end);
    on_end = nullptr;
    final = error;
  }
  ended.notify_all();
  cv.notify_all();
  if (fn)
    fn(final);
}

result<std::string> await_output(const run_state& st) {
  std::unique_lock guard{st.mu};
  if (!st.done)
    if (auto ok = may_wait_for(st.id); !ok)
      return ok;
  st.ended.wait(guard, [&] { return st.done; });
  if (!st.error)
    return st.error;
  return *st.output;
}

bool await_for(const run_state& st, std::chrono::nanoseconds d) {
  std::unique_lock guard{st.mu};
  return st.ended.wait_for(guard, d, [&] { return st.done; });
}

const std::string& run_id(const run_state& st) {
  return st.id;
}

} // namespace detail

void engine::impl::unregister(const std::string& id) {
  std::unique_lock guard{mu};
  live.erase(id);
  if (!live.empty())
    return; // close() waits for none, not for each one that ends
  guard.unlock();
  idle.notify_all();
}

result<std::unique_ptr<workflow_run>> engine::impl::load(
  std::string_view id) const {
  auto recs = log->read(id);
  if (!recs) {
    if (recs.error() == errc::not_found)
      return unexpected{errc::not_found,
                        fmt::format("no workflow '{}' in storage '{}'", id,
                                    opts.storage.string())};
    return std::move(recs).error();
  }
  return workflow_run::replay(std::string{id}, *recs, capacity);
}

namespace {

// Time first (microseconds, 14 hex digits), so that new workflows' keys
// share the storage's last pages instead of one random page each.
std::string random_id() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  using namespace std::chrono;
  auto us = duration_cast<microseconds>(system_clock::now().time_since_epoch());
  return fmt::format("{:014x}.{:016x}{:016x}", us.count(), gen(), gen());
}

// An id `accept_id` takes: the given one checked, or one drawn until
// taken (engine_host: an id of the engine's partition, P draws on
// average).
status accepted_id(const engine_options& o, std::string& id) {
  if (!o.accept_id)
    return {};
  if (!id.empty())
    return o.accept_id(id);
  status last;
  for (int tries = 0; tries < 100000; ++tries) {
    auto candidate = random_id();
    last = o.accept_id(candidate);
    if (last.is_ok()) {
      id = std::move(candidate);
      return {};
    }
  }
  return status{errc::invalid_argument,
                "no generated workflow id was accepted (engine_options::"
                "accept_id): " + last.message()};
}

std::shared_ptr<run_state> finished(std::string id, status st,
                                    std::shared_ptr<const std::string> out) {
  auto s = std::make_shared<run_state>();
  s->id = std::move(id);
  s->finish(std::move(st), std::move(out));
  return s;
}

status busy(std::string_view id) {
  return {errc::busy,
          fmt::format("workflow '{}' is running in this engine; wait for it "
                      "or cancel it",
                      id)};
}

} // namespace

// -- lifetime --------------------------------------------------------------------

namespace {
result<std::unique_ptr<engine::impl>> open_impl(engine_options opts);
} // namespace

engine::engine(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  impl_->blobs->owner = this;
}

engine::engine(engine_options opts) {
  auto p = open_impl(std::move(opts));
  if (!p)
    throw_error(std::move(p).error());
  impl_ = std::move(*p);
  impl_->blobs->owner = this;
  if (auto st = finish_open(); !st)
    throw_error(std::move(st));
}

namespace {

// Everything of an open but the engine object and the resume on open.
result<std::unique_ptr<engine::impl>> open_impl(engine_options opts) {
  using impl = engine::impl;
  if (auto st = detail::registry_check(); !st)
    return st;
  auto p = std::make_unique<impl>();
  if (opts.storage.empty() && !opts.event_log)
    opts.storage = eventlog::default_storage_dir();
  if (opts.engine_id.empty())
    opts.engine_id = fmt::format("perdure-{}", ::getpid());
  if (auto st = detail::check_served(opts); !st)
    return st; // before anything is opened
  auto log = detail::open_engine_log(*p, opts);
  if (!log)
    return std::move(log).error();
  p->log = std::move(*log);
  p->blobs = std::make_shared<detail::log_blobs>(p->log);
  p->capacity = opts.capacity;
  if (!p->capacity.cpus)
    p->capacity.cpus = std::max(1u, std::thread::hardware_concurrency());
  if (!p->capacity.gpus)
    p->capacity.gpus = 0;
  p->pool = std::make_shared<detail::step_pool>(p->capacity);
  auto threads = opts.actor_threads;
  if (threads == 0)
    threads = std::min(2u, std::max(1u, std::thread::hardware_concurrency()));
  p->opts = std::move(opts);
  p->opts.actor_threads = threads;
  p->host = detail::make_actor_host(*p, threads);
  auto* raw = p.get();
  detail::engine_metrics::add_callbacks(*p->registry, p->log, [raw] {
    std::vector<std::string> ids;
    std::lock_guard guard{raw->mu};
    for (auto& [id, st] : raw->live)
      ids.push_back(id);
    return ids;
  });
  if (!p->opts.metrics_address.empty()) {
    auto srv = metrics::server::start(
      p->opts.metrics_address, [reg = p->registry.get()] {
        return reg->expose();
      });
    if (!srv) {
      if (p->opts.event_log) // borrowed: free for another engine
        p->log->observe_commits({});
      return std::move(srv).error();
    }
    p->metrics_http = std::move(*srv);
  }
  return p;
}

} // namespace

result<std::unique_ptr<engine>> engine::open(engine_options opts) {
  auto p = open_impl(std::move(opts));
  if (!p)
    return std::move(p).error();
  std::unique_ptr<engine> e{new engine{std::move(*p)}};
  if (auto st = e->finish_open(); !st)
    return st;
  return e;
}

void engine::resume_on_open() {
  auto& p = *impl_;
  if (!p.opts.resume_on_open)
    return;
  auto entries = try_list({workflow_status::resumable});
  if (!entries) {
    eventlog::emit(p.opts.log, eventlog::log_level::warning,
                   fmt::format("resume_on_open: cannot list the resumable "
                               "workflows: {}",
                               entries.error().to_string()));
    return;
  }
  for (auto& e : *entries) {
    auto h = try_resume(e.id);
    if (!h) {
      // Its code is gone or changed, or the storage fails: it stays
      // resumable, as it was, and the operator learns why.
      eventlog::emit(p.opts.log, eventlog::log_level::warning,
                     fmt::format("resume_on_open: workflow '{}' stays "
                                 "resumable: {}",
                                 e.id, h.error().to_string()));
      continue;
    }
    std::lock_guard guard{h->state()->mu};
    h->state()->resumed_on_open = true;
  }
}

const std::filesystem::path& engine::storage() const noexcept {
  return impl_->opts.storage;
}

const engine_options& engine::options() const noexcept {
  return impl_->opts;
}

metrics::registry& engine::metrics() const noexcept {
  return *impl_->registry;
}

std::size_t engine::live_count() const {
  std::lock_guard guard{impl_->mu};
  return impl_->live.size();
}

std::shared_ptr<detail::blob_source> engine::blob_source() const {
  return impl_->blobs;
}

const std::shared_ptr<eventlog::event_log>& engine::event_log() const noexcept {
  return impl_->log;
}

// -- running -----------------------------------------------------------------------

namespace {

// The live run of `id` when this engine resumed it at its open (what
// run_async and resume of that id then return), else null.
std::shared_ptr<run_state> resumed_on_open_run(engine::impl& p,
                                               const std::string& id) {
  std::shared_ptr<run_state> st;
  {
    std::lock_guard guard{p.mu};
    if (auto it = p.live.find(id); it != p.live.end())
      st = it->second;
  }
  if (!st)
    return nullptr;
  std::lock_guard guard{st->mu};
  return st->resumed_on_open ? st : nullptr;
}

// Reserves `id` in the live table; fails busy when it is live already.
status reserve(engine::impl& p, const std::string& id,
               const std::shared_ptr<run_state>& st) {
  std::lock_guard guard{p.mu};
  if (p.closing)
    return {errc::closed, "the engine is shutting down"};
  if (!p.live.emplace(id, st).second)
    return busy(id);
  return {};
}


// Resumes the stored workflow `id` into the reserved `st`.
result<std::shared_ptr<run_state>> resume_into(engine::impl& p,
                                               std::shared_ptr<run_state> st) {
  auto run = p.load(st->id);
  if (!run)
    return std::move(run).error();
  auto& r = **run;
  switch (r.end()) {
    case detail::run_end::succeeded:
      return finished(st->id, {}, r.at(r.root()).output);
    case detail::run_end::canceled:
      return unexpected{errc::canceled,
                        fmt::format("workflow '{}' was canceled and cannot "
                                    "resume; remove it to reuse the id",
                                    st->id)};
    default: break;
  }
  if (auto chk = r.check_code(); !chk)
    return chk;
  st->run = std::move(*run);
  p.host->spawn(st);
  return st;
}

} // namespace

result<std::shared_ptr<run_state>>
engine::submit(std::shared_ptr<detail::node> root, std::string id,
               run_options opts) {
  auto& p = *impl_;
  if (auto st = detail::registry_check(); !st)
    return st;
  bool generated = id.empty();
  if (!generated)
    if (auto bad = eventlog::check_stream_id(id); !bad.empty())
      return unexpected{errc::invalid_argument,
                        fmt::format("bad workflow id: {}", bad)};
  if (auto ok = accepted_id(p.opts, id); !ok)
    return ok;
  if (id.empty())
    id = random_id();
  auto st = std::make_shared<run_state>();
  st->id = id;
  if (auto r = reserve(p, id, st); !r) {
    // A stored unfinished id resumes: one resumed at open already runs.
    if (auto opened = resumed_on_open_run(p, id))
      return opened;
    return r;
  }
  auto release = [&](perdure::status s) -> result<std::shared_ptr<run_state>> {
    p.unregister(id);
    return s;
  };
  if (!generated) {
    auto info = p.log->info(id);
    if (info) {
      auto r = resume_into(p, st);
      if (!r || r->get() != st.get())
        p.unregister(id);
      return r;
    }
    if (info.error() != errc::not_found)
      return release(info.error());
  }
  auto run = workflow_run::create(id, root, std::move(opts.metadata),
                                  p.capacity);
  if (!run)
    return release(std::move(run).error());
  st->run = std::move(*run);
  p.host->spawn(st);
  return st;
}

result<std::vector<bool>> engine::submit_batch(
  std::vector<new_run> runs,
  const std::function<void(eventlog::write_batch&)>& extra) {
  auto& p = *impl_;
  if (auto st = detail::registry_check(); !st)
    return st;
  for (auto& r : runs)
    if (auto ok = accepted_id(p.opts, r.id); !ok)
      return ok; // nothing reserved or written yet
  std::vector<bool> started(runs.size(), false);
  std::vector<std::shared_ptr<run_state>> states(runs.size());
  std::vector<std::vector<detail::dispatch>> dispatches(runs.size());
  detail::plan all;
  auto release = [&] {
    for (std::size_t k = 0; k < runs.size(); ++k)
      if (started[k])
        p.unregister(runs[k].id);
  };
  for (std::size_t k = 0; k < runs.size(); ++k) {
    auto& r = runs[k];
    auto st = std::make_shared<run_state>();
    st->id = r.id;
    if (auto rs = reserve(p, r.id, st); !rs) {
      if (rs == errc::closed) {
        release();
        return rs;
      }
      continue; // live already: the record was taken
    }
    auto info = p.log->info(r.id);
    if (info || info.error() != errc::not_found) {
      p.unregister(r.id);
      if (!info) {
        release();
        return info.error();
      }
      continue; // stored already: the record was taken
    }
    auto run = workflow_run::create(r.id, r.root, std::move(r.opts.metadata),
                                    p.capacity);
    if (!run) {
      p.unregister(r.id);
      release();
      return std::move(run).error();
    }
    detail::plan one;
    one.batch = std::move(all.batch);
    auto before = one.batch.record_count();
    (*run)->begin(one);
    // All of this run's records go to its own stream.
    (*run)->advance(one.batch.record_count() - before);
    all.batch = std::move(one.batch);
    dispatches[k] = std::move(one.dispatches);
    { // (registered already: a query may read it meanwhile)
      std::lock_guard guard{st->mu};
      st->run = std::move(*run);
      st->on_end = std::move(r.on_end);
    }
    states[k] = std::move(st);
    started[k] = true;
  }
  extra(all.batch);
  if (auto c = p.log->commit(std::move(all.batch)); !c) {
    release();
    return std::move(c).error();
  }
  for (std::size_t k = 0; k < runs.size(); ++k) {
    if (!started[k])
      continue;
    auto st = states[k];
    p.host->spawn_begun(std::move(states[k]), std::move(dispatches[k]));
    // A close that began meanwhile sent its stops before this actor had a
    // handle (a child source's thread starts children): stop it here, or
    // the actor system waits for it forever.
    bool closing = false;
    {
      std::lock_guard guard{p.mu};
      closing = p.closing;
    }
    if (closing)
      p.host->stop(*st);
  }
  return started;
}

result<handle<>> engine::try_resume(std::string_view id) {
  auto& p = *impl_;
  auto st = std::make_shared<run_state>();
  st->id = std::string{id};
  if (auto r = reserve(p, st->id, st); !r) {
    if (auto opened = resumed_on_open_run(p, st->id))
      return handle<>{std::move(opened)};
    return r;
  }
  auto r = resume_into(p, st);
  if (!r || r->get() != st.get())
    p.unregister(st->id);
  if (!r)
    return std::move(r).error();
  return handle<>{std::move(*r)};
}

std::vector<std::string> engine::resume_all(bool include_failed) {
  std::vector<workflow_status> which{workflow_status::resumable};
  if (include_failed)
    which.push_back(workflow_status::failed);
  std::vector<std::string> ids;
  auto entries = try_list(which);
  if (!entries)
    return ids;
  for (auto& e : *entries)
    if (try_resume(e.id))
      ids.push_back(e.id);
  return ids;
}

} // namespace perdure
