// SPDX-License-Identifier: Apache-2.0
#pragma once

// Durable promises (wait_for_promise<T>, engine::complete / reject,
// `perdure promise`): the record that settles one, its id, and the one
// routine that stores a settlement exactly once (shared by the engine and
// the CLI, which links no runtime).

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <fmt/format.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace perdure::records {

/// Promise `name` of workflow `workflow` was completed (`ok`, with
/// `value`) or rejected (`error`). Appended to stream `signals/<workflow>`
/// (beside its signals), at most once per name.
struct promise_settled {
  std::string workflow;
  std::string name;
  bool ok = true;
  codec::bytes value;      ///< ok: the value's self-describing FlexBuffer
  std::string error = {};  ///< rejected: the reason
  std::string sender = {}; ///< "engine" or "cli"
};
PERDURE_FIELDS(promise_settled, workflow, name, ok, value, error, sender)

/// Empty when `name` is a valid promise name (a valid signal name without
/// '@'), else what is wrong with it.
inline std::string check_promise_name(std::string_view name) {
  if (name.empty())
    return "a promise name must not be empty";
  if (name.size() > max_signal_name_size)
    return "promise name '" + std::string{name.substr(0, 16)}
           + "...' is longer than 64 bytes";
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7F)
      return "a promise name must not contain control characters";
  if (name.find('@') != std::string_view::npos)
    return "a promise name must not contain '@'";
  return {};
}

/// The id of promise `name` of workflow `workflow`: "NAME@WORKFLOW".
inline std::string promise_id(std::string_view workflow,
                              std::string_view name) {
  return fmt::format("{}@{}", name, workflow);
}

/// The workflow and name a promise id names, or why it names none.
struct promise_address {
  std::string workflow;
  std::string name;
  std::string error; ///< non-empty: the id is malformed
};
inline promise_address parse_promise_id(std::string_view id) {
  promise_address a;
  auto at = id.find('@');
  if (at == std::string_view::npos || at + 1 == id.size()) {
    a.error = fmt::format("'{}' is not a promise id (NAME@WORKFLOW)", id);
    return a;
  }
  a.name = std::string{id.substr(0, at)};
  a.workflow = std::string{id.substr(at + 1)};
  if (auto why = check_promise_name(a.name); !why.empty())
    a.error = fmt::format("'{}' is not a promise id: {}", id, why);
  return a;
}

/// The settlement of promise `name` stored in `stream` (a signal stream),
/// if any; `last` receives the stream's last seq (0: none).
inline result<std::optional<promise_settled>>
find_settlement(const eventlog::event_log& log, const std::string& stream,
                std::string_view name, eventlog::seq_t& last) {
  last = 0;
  auto info = log.info(stream);
  if (!info && info.error() == errc::not_found)
    return std::optional<promise_settled>{};
  if (!info)
    return std::move(info).error();
  last = info->last_seq;
  std::optional<promise_settled> found;
  status bad;
  auto st = log.scan(stream, info->first_seq,
                     [&](const eventlog::record_view& r) {
    if (r.kind != to_u16(record_kind::promise_settled))
      return true;
    auto p = codec::decode<promise_settled>(r.payload);
    if (!p) {
      bad = p.error();
      return false;
    }
    if (p->name != name)
      return true;
    found = std::move(*p);
    return false;
  });
  if (!st)
    return st;
  if (!bad)
    return bad;
  return found;
}

/// Stores settlement `s` of promise `s.name` of workflow `s.workflow`,
/// exactly once: fails `not_found` (unknown workflow), `canceled`,
/// `conflict` (the workflow ended, or the promise was settled already),
/// writing nothing then. `starting()`, when given, says that an unknown
/// workflow is being started (look again). Returns the record's seq.
inline result<eventlog::seq_t> settle_promise(
  eventlog::event_log& log, const promise_settled& s,
  const std::function<bool()>& starting = {}) {
  auto pid = promise_id(s.workflow, s.name);
  auto verb = s.ok ? "completed" : "rejected";
  auto stream = signal_stream(s.workflow);
  auto payload = codec::encode(s);
  for (int round = 0;; ++round) {
    auto info = log.info(s.workflow);
    if (!info && info.error() == errc::not_found && starting
        && round < 10'000 && starting())
      continue;
    if (!info && info.error() == errc::not_found)
      return unexpected{errc::not_found,
                        fmt::format("no workflow '{}'; promise '{}' was not "
                                    "{}",
                                    s.workflow, pid, verb)};
    if (!info)
      return std::move(info).error();
    if (info->kind != eventlog::stream_kind::workflow)
      return unexpected{errc::not_found,
                        fmt::format("'{}' is not a workflow (a {} stream); "
                                    "promise '{}' was not {}",
                                    s.workflow, eventlog::to_string(info->kind),
                                    pid, verb)};
    auto st = parse_status(info->status);
    if (st == stored_status::canceled)
      return unexpected{errc::canceled,
                        fmt::format("workflow '{}' is canceled; promise '{}' "
                                    "was not {}",
                                    s.workflow, pid, verb)};
    if (st && ended(*st))
      return unexpected{errc::conflict,
                        fmt::format("workflow '{}' already finished ({}); "
                                    "promise '{}' was not {}",
                                    s.workflow, info->status, pid, verb)};
    eventlog::seq_t last = 0;
    auto prior = find_settlement(log, stream, s.name, last);
    if (!prior)
      return std::move(prior).error();
    if (*prior)
      return unexpected{
        errc::conflict,
        fmt::format("promise '{}' was already {} (by {}); this {} changed "
                    "nothing",
                    pid, (*prior)->ok ? "completed" : "rejected",
                    (*prior)->sender.empty() ? "?" : (*prior)->sender,
                    s.ok ? "completion" : "rejection")};
    // Both expectations: the workflow has not ended meanwhile, and nobody
    // settled the promise (nor signaled) since the scan; else look again.
    eventlog::write_batch b;
    b.expect_last(s.workflow, info->last_seq);
    b.expect_last(stream, last);
    b.create(stream, eventlog::stream_kind::listener);
    b.append(stream, to_u16(record_kind::promise_settled), payload);
    auto done = log.commit(std::move(b));
    if (!done && done.error() == errc::conflict && round < 1000)
      continue;
    if (!done)
      return unexpected{done.error().code(),
                        fmt::format("promise '{}': {}", pid,
                                    done.error().message())};
    return done->seqs.empty() ? eventlog::seq_t{0} : done->seqs.front();
  }
}

} // namespace perdure::records
