// SPDX-License-Identifier: Apache-2.0
// engine::signal: stores a signal in stream signals/ID (never in the
// workflow's own stream, whose appends belong to its actor); the log's
// commit hook wakes the engine's signal source (signal_hub). When the
// workflow runs in this engine and waits for the signal, the signal is
// handed to its wait instead, whose batch logs the signal and its
// consumption in one commit (the direct path; runtime README, "Signals").

#include "engine_impl.hpp"
#include "signal_source.hpp"

#include "perdure/eventlog/records/workflow.hpp"
#include "perdure/runtime/signal.hpp"

#include <fmt/format.h>

#include <chrono>
#include <future>
#include <thread>

namespace perdure {

namespace rec = perdure::records;

namespace {

bool live(engine::impl& p, std::string_view id) {
  std::lock_guard guard{p.mu};
  return p.live.count(std::string{id}) > 0;
}

} // namespace

perdure::status engine::add_signal(eventlog::write_batch& b,
                                   std::string_view id,
                                   std::string_view name, std::string value,
                                   std::string_view sender) {
  auto& p = *impl_;
  if (auto why = rec::check_signal_name(name); !why.empty())
    return {errc::invalid_argument, why};
  if (auto st = codec::validate(value); !st)
    return {errc::invalid_argument,
            fmt::format("signal '{}': the value is not a valid payload: {}",
                        name, st.message())};
  auto info = p.log->info(id);
  if (!info && info.error() == errc::not_found && live(p, id))
    return {errc::busy,
            fmt::format("workflow '{}' is starting; signal '{}' not stored "
                        "yet",
                        id, name)};
  if (!info && info.error() == errc::not_found)
    return {errc::not_found,
            fmt::format("no workflow '{}' in {}; signal '{}' was not stored",
                        id, p.opts.storage.string(), name)};
  if (!info)
    return info.error();
  if (info->kind != eventlog::stream_kind::workflow)
    return {errc::not_found,
            fmt::format("'{}' is not a workflow (a {} stream); signal '{}' "
                        "was not stored",
                        id, eventlog::to_string(info->kind), name)};
  auto st = rec::parse_status(info->status);
  if (st == rec::stored_status::canceled)
    return {errc::canceled,
            fmt::format("workflow '{}' is canceled; signal '{}' was not "
                        "stored",
                        id, name)};
  if (st && rec::ended(*st))
    return {errc::conflict,
            fmt::format("workflow '{}' already finished ({}); signal '{}' "
                        "was not stored",
                        id, info->status, name)};
  auto stream = rec::signal_stream(id);
  // The workflow may log its end between our read of its status and the
  // commit: expecting its last seq turns that into a conflict, and the
  // caller looks again, so a signal is never stored for an ended one.
  b.expect_last(id, info->last_seq);
  b.create(stream, eventlog::stream_kind::listener);
  b.append(stream, rec::to_u16(rec::record_kind::signal_sent),
           codec::encode(rec::signal_sent{.workflow = std::string{id},
                                          .name = std::string{name},
                                          .value = {std::move(value)},
                                          .sender = std::string{sender}}));
  // A keyed sender's mark (records::signal_sender_key): its next try finds
  // it with one look-up.
  if (auto k = rec::signal_sender_key(info->created, id, sender))
    b.put_offset(*k, 1);
  return {};
}

namespace {

// The direct path: nothing when it does not apply or nobody took the
// signal (the caller stores it as usual), else the result of the wait's
// batch.
std::optional<perdure::status> signal_direct(engine::impl& p,
                                             std::string_view id,
                                             std::string_view name,
                                             const std::string& value,
                                             std::string_view sender) {
  // (Not from a local step's body: it would wait for the receiving
  // workflow's actor, maybe its own, whose thread it holds.)
  if (!rec::check_signal_name(name).empty() || !codec::validate(value)
      || !live(p, id) || detail::in_local_step())
    return std::nullopt;
  std::shared_ptr<detail::signal_source> src;
  {
    std::lock_guard guard{p.signals->mu};
    src = p.signals->source.lock();
  }
  if (!src)
    return std::nullopt;
  // A keyed sender's mark goes into the wait's batch with the signal.
  std::string mark;
  if (sender.starts_with(rec::keyed_sender_prefix)) {
    auto info = p.log->info(id);
    if (!info)
      return std::nullopt;
    mark = rec::signal_sender_key(info->created, id, sender).value_or("");
  }
  auto done = std::make_shared<std::promise<perdure::status>>();
  auto got = done->get_future();
  auto payload = codec::encode(rec::signal_sent{.workflow = std::string{id},
                                                .name = std::string{name},
                                                .value = {value},
                                                .sender = std::string{sender},
                                                .direct = true});
  if (!src->direct(std::string{id}, std::string{name}, value,
                   std::move(payload), std::move(mark),
                   [done](perdure::status st) { done->set_value(st); }))
    return std::nullopt;
  auto st = got.get();
  // Not taken (the wait was canceled, lost a race, or its workflow
  // stopped), or a conflict (the workflow's log moved on): nothing was
  // stored; the usual path decides.
  if (st == errc::canceled || st == errc::conflict)
    return std::nullopt;
  if (!st)
    return perdure::status{st.code(),
                           fmt::format("signal '{}' to workflow '{}': {}",
                                       name, id, st.message())};
  return st;
}

} // namespace

perdure::status engine::signal_bytes(std::string_view id,
                                     std::string_view name, std::string value,
                                     std::string_view sender) {
  // Signals sent from this engine to one workflow are stored one at a
  // time, so their commit order is their call order on either path.
  auto lock = impl_->signals->sender_lock(std::string{id});
  std::lock_guard sending{*lock};
  if (auto st = signal_direct(*impl_, id, name, value, sender))
    return *st;
  for (int round = 0;; ++round) {
    eventlog::write_batch b;
    auto st = add_signal(b, id, name, value, sender);
    if (st == errc::busy && round < 10'000) {
      // Started by this engine a moment ago: its first batch is on its
      // way to the log.
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
      continue;
    }
    if (st == errc::busy)
      return {errc::not_found, st.message()};
    if (!st)
      return st;
    auto done = impl_->log->commit(std::move(b));
    if (!done && done.error() == errc::conflict && round < 1000)
      continue;
    if (!done)
      return {done.error().code(),
              fmt::format("signal '{}' to workflow '{}': {}", name, id,
                          done.error().message())};
    // The log's commit hook woke the waits already (signal_hub).
    return {};
  }
}

} // namespace perdure
