// SPDX-License-Identifier: Apache-2.0
// engine::close() and the destructor: stops subscriptions, workflows, event sources,
// the actor system and the step pool in that order, and never waits
// unboundedly for user code. Running step bodies are asked to stop (their
// token is set); those still running after `engine_options::stop_timeout`
// are abandoned and named through engine_options::log.

#include "engine_impl.hpp"

#include <fmt/format.h>

namespace perdure {

namespace {

using clock = std::chrono::steady_clock;


void warn(const engine::impl& p, const std::string& text) {
  eventlog::emit(p.opts.log, eventlog::log_level::warning, text);
}

// Waits until no run is live or `deadline`; true when none is.
bool await_idle(engine::impl& p, std::unique_lock<std::mutex>& guard,
                clock::time_point deadline) {
  return p.idle.wait_until(guard, deadline, [&] { return p.live.empty(); });
}

} // namespace

engine::~engine() {
  if (!impl_)
    return;
  impl_->blobs->owner = nullptr; // this_step::engine() fails from now on
  bool closed_before = false;
  {
    std::lock_guard guard{impl_->close_mu};
    closed_before = impl_->shut;
  }
  if (!closed_before)
    if (auto st = close(); !st)
      eventlog::emit(impl_->opts.log, eventlog::log_level::error,
                     fmt::format("closing the storage '{}' failed: {} "
                                 "(nothing acknowledged is lost; the next "
                                 "open recovers)",
                                 impl_->opts.storage.string(),
                                 st.to_string()));
  // Code that outlived the engine (an abandoned actor method) may still
  // hold the log: the storage is given up all the same, so that it can be
  // opened again at once; that code's reads and writes fail `closed`.
  if (!impl_->opts.event_log
      && !impl_->log->release(impl_->opts.stop_timeout))
    eventlog::emit(impl_->opts.log, eventlog::log_level::warning,
                   fmt::format("the storage '{}' stays open in this process "
                               "until a read that did not end returns",
                               impl_->opts.storage.string()));
}

perdure::status engine::close() {
  auto& p = *impl_;
  std::lock_guard closing{p.close_mu};
  if (p.shut)
    return p.close_status;
  auto deadline = clock::now() + p.opts.stop_timeout;
  // The metrics endpoint reads the live table and the log: it stops first.
  p.metrics_http.reset();
  // Subscriptions stop first (no new workflows), then the workflows, then
  // the event sources (their waits are dropped by now), then the actors.
  std::vector<std::shared_ptr<engine_service>> services;
  {
    std::lock_guard guard{p.mu};
    services.swap(p.services);
    p.services_stopped = true;
  }
  for (auto& s : services)
    s->stop();
  services.clear();
  {
    std::unique_lock guard{p.mu};
    p.closing = true;
    // Bodies see their token; results that come back now are dropped (a
    // body told to stop may return early), so the attempt runs again when
    // the workflow resumes.
    for (auto& [id, st] : p.live)
      st->cancel_flag->store(true);
    p.pool->poke(); // queued attempts start and return at once
    for (auto& [id, st] : p.live)
      p.host->stop(*st);
    if (!await_idle(p, guard, deadline)) {
      for (auto& [id, st] : p.live)
        p.host->abandon(*st);
      // An actor answers at once unless every actor thread is blocked: the
      // wait goes on while runs keep ending (stopping a million waiting
      // ones takes seconds), and gives up after a second without one.
      bool none = false;
      for (auto left = p.live.size() + 1; !none && p.live.size() < left;) {
        left = p.live.size();
        none = await_idle(p, guard, clock::now() + std::chrono::seconds{1});
      }
      if (!none) {
        // (Named up to 10: an engine may hold a million waiting ones.)
        std::string ids;
        std::size_t named = 0;
        for (auto& [id, st] : p.live)
          if (named++ < 10)
            ids += (ids.empty() ? "'" : ", '") + id + "'";
        if (p.live.size() > 10)
          ids += fmt::format(" and {} more", p.live.size() - 10);
        warn(p, fmt::format("the engine on '{}' stops while workflows {} "
                           "did not end; they stay resumable",
                           p.opts.storage.string(), ids));
      }
    }
  }
  std::unordered_map<std::string, std::shared_ptr<detail::event_source>> srcs;
  {
    std::lock_guard guard{p.sources_mu};
    srcs.swap(p.sources);
  }
  for (auto& [name, src] : srcs)
    src->stop();
  srcs.clear();
  {
    // From here on calls see no live run (abandoned ones included) and
    // answer from the log.
    std::lock_guard guard{p.mu};
    p.shut = true;
  }
  p.host.reset();
  // Bodies of ended runs may still run (canceled ones that ignore their
  // token, or abandoned ones): their links are cut, so they touch nothing
  // of this engine when they return.
  auto left = p.pool->shutdown(std::max(deadline, clock::now()));
  if (!left.empty()) {
    std::string names;
    for (auto& l : left)
      names += "\n  " + l;
    warn(p, fmt::format("the engine on '{}' stopped without waiting for {} "
                       "step bod{} that did not return after being asked "
                       "to stop (results dropped, workflows resumable):{}",
                       p.opts.storage.string(), left.size(),
                       left.size() == 1 ? "y" : "ies", names));
  }
  p.pool.reset();
  p.close_status = detail::close_engine_log(p);
  return p.close_status;
}

} // namespace perdure
