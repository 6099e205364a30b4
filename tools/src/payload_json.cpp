// SPDX-License-Identifier: Apache-2.0
// Payload to JSON, with nested user values unwrapped.

#include "payload_json.hpp"

#include "perdure/eventlog/change_feed.hpp"
#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "format.hpp"

#include <initializer_list>

namespace perdure::tools {

namespace rk = perdure::eventlog;

std::string base64_encode(std::string_view bytes) {
  static constexpr char digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    auto n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16)
             | (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8)
             | std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    out += digits[(n >> 6) & 63];
    out += digits[n & 63];
  }
  if (auto rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2)
      n |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    out += rest == 2 ? digits[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=')
    text.remove_suffix(1);
  if (text.size() % 4 == 1)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::optional<json> value_json(std::string_view flexbuffer) {
  auto text = codec::to_json(flexbuffer);
  if (!text)
    return std::nullopt;
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded())
    return std::nullopt;
  return j;
}

namespace {

// Replaces {"$bytes": b64} holding a nested FlexBuffer by the value it holds.
void unwrap(json& j) {
  if (!j.is_object() || j.size() != 1 || !j.contains("$bytes")
      || !j["$bytes"].is_string())
    return;
  auto raw = base64_decode(j["$bytes"].get<std::string>());
  if (!raw)
    return;
  if (raw->empty()) {
    j = nullptr;
    return;
  }
  if (auto v = value_json(*raw))
    j = std::move(*v);
}

void unwrap_graph(json& payload) {
  if (!payload.is_object() || !payload.contains("nodes")
      || !payload["nodes"].is_array())
    return;
  for (auto& node : payload["nodes"]) {
    if (!node.is_object() || !node.contains("args") || !node["args"].is_array())
      continue;
    for (auto& arg : node["args"])
      if (arg.is_object() && arg.contains("value"))
        unwrap(arg["value"]);
  }
}

// Unwraps the named fields of `j` that hold nested user values.
void unwrap_fields(json& j, std::initializer_list<const char*> names) {
  if (!j.is_object())
    return;
  for (auto* name : names)
    if (j.contains(name))
      unwrap(j[name]);
}

// Unwraps the user values of a snapshot's recent keys.
void unwrap_keys(json& j) {
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array())
    return;
  for (auto& k : j["keys"])
    unwrap_fields(k, {"result"});
}

} // namespace

json payload_json(std::uint16_t kind, std::string_view payload) {
  if (payload.empty())
    return nullptr;
  if (kind == eventlog::to_u16(rk::record_kind::change_note)) {
    // Not a codec record: the log's own layout (change_feed.hpp).
    auto n = eventlog::decode_change_note(payload);
    if (!n)
      return json{{"$undecodable", n.error().message()},
                  {"$size", payload.size()}};
    return json{{"stream", n->source},
                {"seq", n->seq},
                {"kind", std::string{eventlog::kind_name(n->kind)}}};
  }
  auto text = codec::to_json(payload);
  if (!text)
    return json{{"$undecodable", text.error().message()},
                {"$size", payload.size()}};
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded())
    return json{{"$undecodable", "the codec's JSON does not parse"},
                {"$size", payload.size()}};
  switch (static_cast<rk::record_kind>(kind)) {
    case rk::record_kind::step_succeeded:
    case rk::record_kind::event_received:
      if (j.is_object() && j.contains("output"))
        unwrap(j["output"]);
      break;
    case rk::record_kind::signal_sent:
    case rk::record_kind::promise_settled:
      unwrap_fields(j, {"value"});
      break;
    case rk::record_kind::workflow_submitted:
    case rk::record_kind::step_continued:
      unwrap_graph(j);
      break;
    // Virtual actors keep state, arguments and results as nested values.
    case rk::record_kind::actor_created:
    case rk::record_kind::actor_called:
    case rk::record_kind::actor_call_failed:
    case rk::record_kind::actor_call_completed:
      unwrap_fields(j, {"state", "args", "result"});
      break;
    case rk::record_kind::actor_snapshot:
      unwrap_fields(j, {"state"});
      unwrap_keys(j);
      break;
    // Event-sourced: the events' fields read as JSON too.
    case rk::record_kind::actor_events:
      unwrap_fields(j, {"args", "result"});
      if (j.is_object() && j.contains("events") && j["events"].is_array())
        for (auto& e : j["events"])
          unwrap_fields(e, {"data"});
      break;
    case rk::record_kind::actor_feed:
      unwrap_fields(j, {"data"});
      break;
    case rk::record_kind::actor_tell:
      unwrap_fields(j, {"args"});
      break;
    default: break;
  }
  return j;
}

std::uint64_t record_count(const eventlog::stream_info& info) {
  return info.first_seq == 0 ? 0 : info.last_seq - info.first_seq + 1;
}

json entry_json(const eventlog::stream_info& info, const std::string& shown,
                bool utc) {
  json j;
  j["id"] = info.id;
  j["kind"] = std::string{eventlog::to_string(info.kind)};
  j["status"] = shown;
  j["stored_status"] = info.status;
  j["first_seq"] = info.first_seq;
  j["last_seq"] = info.last_seq;
  j["snapshot_seq"] = info.snapshot_seq;
  j["records"] = record_count(info);
  j["created"] = iso_time(info.created, utc);
  j["updated"] = iso_time(info.updated, utc);
  j["created_ns"] = info.created;
  j["updated_ns"] = info.updated;
  j["metadata"] = info.metadata.empty() ? json(nullptr)
                                        : payload_json(0, info.metadata);
  return j;
}

std::string dump_compact(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string dump_pretty(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

} // namespace perdure::tools
