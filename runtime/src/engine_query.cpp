// SPDX-License-Identifier: Apache-2.0
// The engine's management API: status, outputs, listing, cancel, remove,
// metadata and stored objects. Live runs are answered from memory, others
// from the log.

#include "child_source.hpp"
#include "engine_impl.hpp"

#include "perdure/eventlog/records/runs.hpp"

#include <fmt/format.h>

namespace perdure {

using detail::run_state;

namespace {

std::optional<workflow_status> from_text(std::string_view t) {
  auto s = records::parse_status(t);
  if (!s)
    return std::nullopt;
  switch (*s) {
  case records::stored_status::running:
    return workflow_status::resumable; // stored running, not live here
  case records::stored_status::failed:
    return workflow_status::failed;
  case records::stored_status::canceled:
    return workflow_status::canceled;
  case records::stored_status::successful:
    return workflow_status::successful;
  }
  return std::nullopt;
}

std::shared_ptr<run_state> live_of(const engine::impl& p, std::string_view id) {
  std::lock_guard guard{p.mu};
  if (p.shut)
    return nullptr;
  auto i = p.live.find(std::string{id});
  return i == p.live.end() ? nullptr : i->second;
}

} // namespace

result<workflow_status> engine::try_status(std::string_view id) const {
  auto& p = *impl_;
  if (live_of(p, id))
    return workflow_status::running;
  auto info = p.log->info(id);
  if (!info) {
    if (info.error() == errc::not_found)
      return unexpected{errc::not_found,
                        fmt::format("no workflow '{}'", id)};
    return std::move(info).error();
  }
  // Between the live check and the read the run may have ended; the stored
  // text is then final and correct.
  if (auto s = from_text(info->status)) {
    if (*s == workflow_status::resumable && live_of(p, id))
      return workflow_status::running;
    return *s;
  }
  return unexpected{errc::corruption,
                    fmt::format("workflow '{}' has unknown status '{}'", id,
                                info->status)};
}

result<std::string> engine::output_bytes(std::string_view id,
                                         std::string_view step) const {
  auto& p = *impl_;
  if (auto st = live_of(p, id)) {
    if (step.empty())
      return detail::await_output(*st);
    std::unique_lock guard{st->mu};
    std::optional<std::uint32_t> idx;
    for (;;) {
      if (!idx && st->run)
        idx = st->run->find(step);
      if (!idx)
        return unexpected{errc::not_found,
                          fmt::format("workflow '{}' has no step '{}' (yet)",
                                      id, step)};
      auto& n = st->run->at(*idx);
      if (n.state == step_state::succeeded)
        return *n.output;
      if (n.state == step_state::failed)
        return unexpected{errc::failed,
                          fmt::format("step '{}' of workflow '{}' failed: {}",
                                      step, id, n.error_text)};
      if (st->done)
        return unexpected{errc::not_found,
                          fmt::format("step '{}' of workflow '{}' did not "
                                      "run",
                                      step, id)};
      if (auto ok = detail::may_wait_for(st->id); !ok)
        return ok;
      st->cv.wait(guard);
    }
  }
  auto run = p.load(id);
  if (!run)
    return std::move(run).error();
  auto& r = **run;
  if (step.empty()) {
    switch (r.end()) {
      case detail::run_end::succeeded: return *r.at(r.root()).output;
      case detail::run_end::canceled:
        return unexpected{errc::canceled,
                          fmt::format("workflow '{}' was canceled; it has "
                                      "no output",
                                      id)};
      case detail::run_end::failed:
        return unexpected{errc::failed,
                          fmt::format("workflow '{}' failed: {}", id,
                                      r.metadata({}).error_text)};
      default:
        return unexpected{errc::conflict,
                          fmt::format("workflow '{}' is resumable (its "
                                      "engine stopped); resume it to get "
                                      "its output",
                                      id)};
    }
  }
  auto idx = r.find(step);
  if (!idx)
    return unexpected{errc::not_found,
                      fmt::format("workflow '{}' has no step '{}'", id,
                                  step)};
  auto& n = r.at(*idx);
  if (n.state == step_state::succeeded)
    return *n.output;
  if (!n.error_text.empty())
    return unexpected{errc::failed,
                      fmt::format("step '{}' of workflow '{}' failed: {}",
                                  step, id, n.error_text)};
  return unexpected{errc::not_found,
                    fmt::format("step '{}' of workflow '{}' has no output",
                                step, id)};
}

result<std::vector<workflow_entry>>
engine::try_list(std::vector<workflow_status> filter) const {
  auto& p = *impl_;
  auto wants = [&](workflow_status s) {
    return filter.empty()
           || std::find(filter.begin(), filter.end(), s) != filter.end();
  };
  std::vector<std::string> live_ids;
  {
    std::lock_guard guard{p.mu};
    for (auto& [id, st] : p.live)
      live_ids.push_back(id);
  }
  std::sort(live_ids.begin(), live_ids.end());
  auto is_live = [&](const std::string& id) {
    return std::binary_search(live_ids.begin(), live_ids.end(), id);
  };
  std::vector<workflow_entry> out;
  if (wants(workflow_status::running))
    for (auto& id : live_ids)
      out.push_back({id, workflow_status::running});
  for (auto text : {"running", "failed", "canceled", "successful"}) {
    auto s = *from_text(text);
    if (!wants(s))
      continue;
    auto entries = p.log->list_by_status(text);
    if (!entries)
      return std::move(entries).error();
    for (auto& e : *entries)
      if (e.kind == eventlog::stream_kind::workflow && !is_live(e.id))
        out.push_back({e.id, s});
  }
  std::sort(out.begin(), out.end(),
            [](auto& a, auto& b) { return a.id < b.id; });
  return out;
}

perdure::status engine::try_cancel(std::string_view id) {
  auto& p = *impl_;
  if (auto st = live_of(p, id)) {
    st->cancel_flag->store(true);
    p.pool->poke(); // its queued attempts may start (and return) at once
    p.host->cancel(*st);
    (void) detail::await_output(*st);
    return detail::cancel_children(*this, id);
  }
  auto info = p.log->info(id);
  if (!info)
    return info.error() == errc::not_found
             ? perdure::status{errc::not_found, fmt::format("no workflow '{}'", id)}
             : info.error();
  if (info->status != "running" && info->status != "failed")
    return {}; // finished or canceled already
  eventlog::write_batch b;
  b.expect_last(id, info->last_seq);
  b.append(id, eventlog::to_u16(eventlog::record_kind::workflow_canceled),
           codec::encode(records::workflow_ended{}));
  b.set_status(id, records::status_string(records::stored_status::canceled));
  if (auto c = p.log->commit(std::move(b)); !c)
    return c.as_status();
  return detail::cancel_children(*this, id);
}

perdure::status engine::try_remove(std::string_view id) {
  auto& p = *impl_;
  if (live_of(p, id))
    return {errc::busy,
            fmt::format("workflow '{}' is running; cancel it before removing",
                        id)};
  auto info = p.log->info(id);
  if (!info)
    return info.error() == errc::not_found
             ? perdure::status{errc::not_found, fmt::format("no workflow '{}'", id)}
             : info.error();
  eventlog::write_batch b;
  b.remove(id);
  // Its pending signals go with it (a reused id starts without them).
  if (auto sig = records::signal_stream(id); p.log->info(sig))
    b.remove(sig);
  // And its earlier runs (continue-as-new).
  auto runs = records::archived_runs(*p.log, id);
  if (!runs)
    return runs.error();
  for (auto n : *runs)
    b.remove(records::run_stream(id, n));
  return p.log->commit(std::move(b)).as_status();
}

result<workflow_metadata> engine::try_metadata(std::string_view id) const {
  auto& p = *impl_;
  if (auto st = live_of(p, id)) {
    std::lock_guard guard{st->mu};
    if (st->run)
      return st->run->metadata(workflow_status::running);
  }
  auto stat = try_status(id);
  if (!stat)
    return std::move(stat).error();
  auto run = p.load(id);
  if (!run)
    return std::move(run).error();
  return (*run)->metadata(*stat);
}

result<step_metadata> engine::try_metadata(std::string_view id,
                                           std::string_view step) const {
  auto& p = *impl_;
  if (auto st = live_of(p, id)) {
    std::lock_guard guard{st->mu};
    if (st->run)
      return st->run->step_meta(step);
  }
  auto run = p.load(id);
  if (!run)
    return std::move(run).error();
  return (*run)->step_meta(step);
}

result<std::string> engine::put_bytes(std::string bytes) {
  eventlog::write_batch b;
  auto key = b.put_blob(std::move(bytes));
  if (auto r = impl_->log->commit(std::move(b)); !r)
    return std::move(r).error();
  return key;
}

} // namespace perdure
