// SPDX-License-Identifier: Apache-2.0
// A workflow's signals and promises, read from stream signals/ID and the
// signals' stored offsets (eventlog/FORMAT.md, "Signals").

#include "workflow_signals.hpp"

#include "format.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/records/promise.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <map>

namespace perdure::tools {

namespace rec = perdure::records;

result<json> workflow_signals(const eventlog::event_log& log,
                              std::string_view id, bool utc) {
  json out{{"signals", json::array()}, {"promises", json::array()}};
  auto stream = rec::signal_stream(id);
  auto info = log.info(stream);
  if (!info && info.error() == errc::not_found)
    return out;
  if (!info)
    return std::move(info).error();
  // The next seq to consume, per signal name (absent: none consumed).
  std::map<std::string, std::int64_t, std::less<>> next;
  auto consumed = [&](const std::string& name) -> result<std::int64_t> {
    if (auto it = next.find(name); it != next.end())
      return it->second;
    auto off = log.offset(rec::signal_offset_key(info->created, id, name));
    if (!off)
      return std::move(off).error();
    return next[name] = off->value_or(0);
  };
  status bad;
  auto st = log.scan(stream, 1, [&](const eventlog::record_view& r) {
    json j{{"seq", r.seq}, {"time", iso_time(r.time, utc)}};
    if (r.kind == rec::to_u16(rec::record_kind::signal_sent)) {
      auto s = codec::decode<rec::signal_sent>(r.payload);
      if (!s) {
        j["payload"] = payload_json(r.kind, r.payload);
        out["signals"].push_back(std::move(j));
        return true;
      }
      auto upto = consumed(s->name);
      if (!upto) {
        bad = upto.error();
        return false;
      }
      j["name"] = s->name;
      j["sender"] = s->sender;
      j["value"] = value_json(s->value.data).value_or(json(nullptr));
      j["consumed"] = s->direct || static_cast<std::int64_t>(r.seq) < *upto;
      out["signals"].push_back(std::move(j));
    } else if (r.kind == rec::to_u16(rec::record_kind::promise_settled)) {
      auto p = codec::decode<rec::promise_settled>(r.payload);
      if (!p) {
        j["payload"] = payload_json(r.kind, r.payload);
        out["promises"].push_back(std::move(j));
        return true;
      }
      j["name"] = p->name;
      j["sender"] = p->sender;
      j["ok"] = p->ok;
      j["value"] = p->ok ? value_json(p->value.data).value_or(json(nullptr))
                         : json(nullptr);
      j["error"] = p->ok ? json(nullptr) : json(p->error);
      out["promises"].push_back(std::move(j));
    }
    return true;
  });
  if (!st)
    return st;
  if (!bad)
    return bad;
  return out;
}

} // namespace perdure::tools
