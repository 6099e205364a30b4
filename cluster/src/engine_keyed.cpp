// SPDX-License-Identifier: Apache-2.0
// Keyed signals and promise settlements: engine_host's side (the key, the
// bytes) and the owner's (look for the key, apply once).

#include "engine_keyed.hpp"

#include "perdure/cluster/engine_host.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/promise.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <fmt/format.h>

#include <tuple>

namespace perdure::cluster {

namespace {

namespace rec = perdure::records;

constexpr std::size_t max_key_size = 200;

using keyed_wire = std::tuple<std::string, std::string>;
using promise_wire = std::tuple<bool, std::string>;

std::string sender_of(std::string_view key) {
  return rec::keyed_sender(key);
}

perdure::status check_key(std::string_view key) {
  if (key.empty() || key.size() > max_key_size)
    return {errc::invalid_argument,
            fmt::format("an idempotency key must be 1 to {} bytes (got {})",
                        max_key_size, key.size())};
  return {};
}

// The caller's key, checked, or a new one of this host's.
result<std::string> key_or_new(engine_host& host, std::string_view key) {
  auto k = key.empty() ? new_request_key(host) : std::string{key};
  if (auto st = check_key(k); !st)
    return unexpected{std::move(st)};
  return k;
}

result<keyed_wire> decode_keyed(const std::string& bytes) {
  auto w = codec::decode<keyed_wire>(bytes);
  if (!w)
    return unexpected{errc::invalid_argument,
                      "a keyed request does not decode: "
                        + w.error().message()};
  if (auto st = check_key(std::get<0>(*w)); !st)
    return unexpected{std::move(st)};
  return std::move(*w);
}

// Whether workflow `id`'s signal stream holds a signal sent by `sender`:
// its mark (records::signal_sender_key, one look-up), or a scan of the
// signals when the mark's key would be too long.
result<bool> has_signal_from(const eventlog::event_log& log,
                             const std::string& id,
                             const std::string& sender) {
  auto wf = log.info(id);
  if (!wf && wf.error() == errc::not_found)
    return false; // the signal fails not_found
  if (!wf)
    return std::move(wf).error();
  if (auto mark = rec::signal_sender_key(wf->created, id, sender)) {
    auto seen = log.offset(*mark);
    if (!seen)
      return std::move(seen).error();
    return seen->has_value();
  }
  auto stream = rec::signal_stream(id);
  auto info = log.info(stream);
  if (!info && info.error() == errc::not_found)
    return false;
  if (!info)
    return std::move(info).error();
  bool found = false;
  perdure::status bad;
  auto st = log.scan(stream, info->first_seq,
                     [&](const eventlog::record_view& r) {
    if (r.kind != eventlog::to_u16(eventlog::record_kind::signal_sent))
      return true;
    auto s = codec::decode<rec::signal_sent>(r.payload);
    if (!s) {
      bad = s.error();
      return false;
    }
    found = s->sender == sender;
    return !found;
  });
  if (!st)
    return unexpected{std::move(st)};
  if (!bad)
    return unexpected{errc::corruption,
                      fmt::format("a signal of workflow '{}' does not "
                                  "decode: {}",
                                  id, bad.message())};
  return found;
}

} // namespace

std::string keyed_bytes(std::string_view key, std::string payload) {
  return codec::encode(keyed_wire{std::string{key}, std::move(payload)});
}

std::string promise_bytes(bool ok, std::string value_or_reason) {
  return codec::encode(promise_wire{ok, std::move(value_or_reason)});
}

std::string encode_actor_call(std::string_view cls, std::string_view key,
                              std::string args,
                              const actor_call_path& waiting) {
  if (waiting.empty())
    return codec::encode(std::tuple<std::string, std::string, std::string>{
      std::string{cls}, std::string{key}, std::move(args)});
  return codec::encode(
    std::tuple<std::string, std::string, std::string, actor_call_path>{
      std::string{cls}, std::string{key}, std::move(args), waiting});
}

perdure::status engine_host::signal_bytes(std::string_view id,
                                          std::string_view name,
                                          std::string value,
                                          std::string_view key) {
  auto k = key_or_new(*this, key);
  if (!k)
    return std::move(k).error();
  auto r = request(request_kind::signal, id, name,
                   keyed_bytes(*k, std::move(value)));
  return r ? perdure::status{} : std::move(r).error();
}

perdure::status engine_host::settle_promise(std::string_view promise_id,
                                            bool ok,
                                            std::string value_or_reason,
                                            std::string_view key) {
  auto at = rec::parse_promise_id(promise_id);
  if (!at.error.empty())
    return {errc::invalid_argument, at.error};
  auto k = key_or_new(*this, key);
  if (!k)
    return std::move(k).error();
  auto r = request(request_kind::promise, at.workflow, at.name,
                   keyed_bytes(*k, promise_bytes(ok,
                                                 std::move(value_or_reason))));
  return r ? perdure::status{} : std::move(r).error();
}

result<std::string> keyed_signal(engine_host& host, engine& eng,
                                 const std::string& id,
                                 const std::string& name,
                                 const std::string& bytes) {
  auto w = decode_keyed(bytes);
  if (!w)
    return std::move(w).error();
  auto& [key, value] = *w;
  auto sender = sender_of(key);
  // From the look-up to the commit: a second try of this key waits, then
  // finds the first's signal.
  std::lock_guard guard{keyed_lock(host, id)};
  auto seen = has_signal_from(*eng.event_log(), id, sender);
  if (!seen)
    return std::move(seen).error();
  if (*seen)
    return std::string{};
  auto st = eng.signal_bytes(id, name, std::move(value), sender);
  if (!st)
    return unexpected{std::move(st)};
  return std::string{};
}

result<std::string> keyed_settle(engine& eng, const std::string& id,
                                 const std::string& name,
                                 const std::string& bytes) {
  auto w = decode_keyed(bytes);
  if (!w)
    return std::move(w).error();
  auto& [key, payload] = *w;
  auto p = codec::decode<promise_wire>(payload);
  if (!p)
    return unexpected{errc::invalid_argument,
                      "a promise settlement does not decode: "
                        + p.error().message()};
  auto sender = sender_of(key);
  auto& [ok, value] = *p;
  auto st = eng.settle_promise(rec::promise_id(id, name), ok,
                               std::move(value), sender);
  if (st)
    return std::string{};
  if (st.code() != errc::conflict)
    return unexpected{std::move(st)};
  // Settled already, or the workflow ended: by this key (an earlier try
  // of this request) is success.
  eventlog::seq_t last = 0;
  auto prior = rec::find_settlement(*eng.event_log(), rec::signal_stream(id),
                                    name, last);
  if (prior && *prior && (*prior)->sender == sender)
    return std::string{};
  return unexpected{std::move(st)};
}

} // namespace perdure::cluster
