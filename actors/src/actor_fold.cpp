// SPDX-License-Identifier: Apache-2.0
// The stored signature of an actor compared at activation, and reading an
// event-sourced actor back: the latest snapshot, then the fold of the
// events logged after it.

#include "actor_internal.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace perdure::detail {

namespace {

using eventlog::record_kind;

const char* kind_text(bool event_sourced) {
  return event_sourced ? "event-sourced" : "state-logged";
}

} // namespace

actor_records::actor_meta meta_of(const actor_class& cls) {
  actor_records::actor_meta m{cls.name, cls.signature, cls.event_sourced,
                              {}, cls.events};
  for (auto& e : cls.methods)
    if (!e.readonly)
      m.methods.push_back({e.name, e.signature});
  return m;
}

std::optional<actor_records::actor_meta> merged_meta(
  const actor_records::actor_meta& stored, const actor_class& cls) {
  auto out = stored;
  bool changed = out.signature != cls.signature;
  out.signature = cls.signature;
  for (auto& m : cls.methods) {
    if (m.readonly)
      continue;
    auto same = [&](auto& x) { return x.name == m.name; };
    if (std::none_of(out.methods.begin(), out.methods.end(), same)) {
      out.methods.push_back({m.name, m.signature});
      changed = true;
    }
  }
  for (auto& e : cls.events) {
    auto same = [&](auto& x) { return x.name == e.name; };
    auto it = std::find_if(out.events.begin(), out.events.end(), same);
    if (it == out.events.end()) {
      out.events.push_back(e);
      changed = true;
    } else if (it->signature != e.signature) {
      it->signature = e.signature;
      changed = true;
    }
  }
  if (!changed)
    return std::nullopt;
  return out;
}

status check_signature(const actor_records::actor_meta& meta,
                       const actor_class& cls, const std::string& id) {
  if (meta.cls != cls.name)
    return {errc::type_mismatch,
            fmt::format("actor '{}' is of class '{}', not '{}'", id, meta.cls,
                        cls.name)};
  if (meta.event_sourced != cls.event_sourced)
    return {errc::type_mismatch,
            fmt::format("actor '{}' was created {}, but class '{}' is {} "
                        "now: its log cannot be read that way",
                        id, kind_text(meta.event_sourced), cls.name,
                        kind_text(cls.event_sourced))};
  for (auto& m : meta.methods) {
    auto* e = cls.find(std::string_view{m.name});
    if (!e || e->readonly || e->signature == m.signature)
      continue; // removed or readonly now: none of its calls can come
    return {errc::type_mismatch,
            fmt::format("actor '{}' (class '{}'): method '{}' was stored as "
                        "'{}' and is '{}' now: its logged arguments and "
                        "results would not decode; keep the signature, or "
                        "register the changed method under a new name",
                        id, cls.name, m.name, m.signature, e->signature)};
  }
  // Event types are checked per stored event when folded (each carries its
  // type and signature): a type whose fields were added still decodes.
  return {};
}

namespace {

// The state being folded: a private copy, never published before the
// load ends.
struct fold_state {
  std::shared_ptr<void> state;
};

status decode_state(const actor_class& cls, const std::string& id,
                    std::string_view bytes, fold_state& f) {
  auto s = cls.decode(bytes);
  if (!s)
    return {errc::type_mismatch,
            fmt::format("actor '{}': its stored state does not decode as "
                        "'{}': {}",
                        id, cls.name, s.error().message())};
  f.state = std::const_pointer_cast<void>(std::move(*s));
  return {};
}

} // namespace

result<loaded_actor> load_folded(const eventlog::event_log& log,
                                 const eventlog::stream_info& info,
                                 const std::string& stream,
                                 const actor_class& cls) {
  std::string id = stream.substr(6);
  loaded_actor out;
  fold_state f;
  status bad;
  auto from = info.snapshot_seq ? info.snapshot_seq : info.first_seq;
  auto st = log.scan(stream, from, [&](const eventlog::record_view& r) {
    switch (static_cast<record_kind>(r.kind)) {
      case record_kind::actor_created: {
        auto c = decode_rec<actor_records::created>(r, stream);
        if (!c)
          return (bad = c.error(), false);
        if (bad = decode_state(cls, id, c->state.data, f); !bad)
          return false;
        break;
      }
      case record_kind::actor_snapshot: {
        auto s = decode_rec<actor_records::snapshot>(r, stream);
        if (!s)
          return (bad = s.error(), false);
        if (bad = decode_state(cls, id, s->state.data, f); !bad)
          return false;
        keys_from_snapshot(*s, out);
        out.since_snapshot = 0;
        out.events_since = 0;
        out.event_bytes_since = 0;
        out.snapshot_bytes = r.payload.size();
        return true;
      }
      case record_kind::actor_events: {
        auto c = decode_rec<actor_records::events_called>(r, stream);
        if (!c)
          return (bad = c.error(), false);
        if (!f.state)
          return (bad = {errc::corruption,
                         fmt::format("actor '{}' seq {}: events before the "
                                     "initial state",
                                     id, r.seq)},
                  false);
        if (c->workflow.empty())
          out.keys.put(c->key, {true, std::move(c->result.data), {}});
        else
          out.pending = pending_sub{c->key, c->method,
                                    std::move(c->args.data), c->workflow,
                                    cls.clone(f.state.get())};
        for (auto& e : c->events) {
          if (auto s = cls.fold(f.state.get(), e.type, e.signature,
                                 e.data.data); !s)
            return (bad = {errc::type_mismatch,
                           fmt::format("actor '{}' (class '{}') seq {}: "
                                       "stored event of type '{}' (signature "
                                       "'{}') cannot be applied: {}; the "
                                       "actor stays unloaded",
                                       id, cls.name, r.seq, e.type,
                                       e.signature, s.message())},
                    false);
        }
        out.events_since += static_cast<std::uint32_t>(c->events.size());
        out.event_bytes_since += r.payload.size();
        break;
      }
      case record_kind::actor_called:
        return (bad = {errc::type_mismatch,
                       fmt::format("actor '{}' seq {}: a state-logged call "
                                   "in an event-sourced actor's log",
                                   id, r.seq)},
                false);
      default:
        if (auto go = read_call_end(r, stream, id, out, bad); go && !*go)
          return false;
        break; // records of other modules are not ours to read
    }
    ++out.since_snapshot;
    return true;
  });
  if (!st)
    return st;
  if (!bad)
    return bad;
  if (!f.state)
    return unexpected{errc::corruption,
                      fmt::format("actor '{}' has no initial state", id)};
  out.state = std::move(f.state);
  out.last_seq = info.last_seq;
  return out;
}

} // namespace perdure::detail
