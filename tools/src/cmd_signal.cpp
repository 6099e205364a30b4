// SPDX-License-Identifier: Apache-2.0
// signal ID NAME JSON: stores a signal for a workflow's wait_for_signal<T>
// nodes, beside a running engine or without one (engine::signal's rules:
// refused for unknown, finished and canceled workflows).

#include "commands.hpp"
#include "payload_json.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/records/workflow.hpp"
#include "perdure/eventlog/write_batch.hpp"

#include <flatbuffers/flexbuffers.h>

#include <fmt/format.h>

#include <cstdint>
#include <limits>

namespace perdure::tools {

namespace {

namespace rec = perdure::records;

// JSON to a self-describing value as the codec writes it: objects become
// maps (a struct is a map keyed by field name), arrays vectors, integers
// 64-bit ints, {"$bytes": base64} a blob (what to_json prints for bytes).
// A wait decodes it as its T, with the codec's range and type checks.
bool build(flexbuffers::Builder& b, const json& j, const char* key,
           std::string& why) {
  auto put_key = [&] {
    if (key)
      b.Key(key);
  };
  switch (j.type()) {
    case json::value_t::null:
      put_key();
      b.Null();
      return true;
    case json::value_t::boolean:
      put_key();
      b.Bool(j.get<bool>());
      return true;
    case json::value_t::number_integer:
      put_key();
      b.Int(j.get<std::int64_t>());
      return true;
    case json::value_t::number_unsigned: {
      put_key();
      auto u = j.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(
                 std::numeric_limits<std::int64_t>::max()))
        b.Int(static_cast<std::int64_t>(u));
      else
        b.UInt(u);
      return true;
    }
    case json::value_t::number_float:
      put_key();
      b.Double(j.get<double>());
      return true;
    case json::value_t::string: {
      put_key();
      auto s = j.get<std::string>();
      b.String(s.data(), s.size());
      return true;
    }
    case json::value_t::array: {
      auto start = key ? b.StartVector(key) : b.StartVector();
      for (auto& e : j)
        if (!build(b, e, nullptr, why))
          return false;
      b.EndVector(start, false, false);
      return true;
    }
    case json::value_t::object: {
      if (j.size() == 1 && j.contains("$bytes") && j["$bytes"].is_string()) {
        auto raw = base64_decode(j["$bytes"].get<std::string>());
        if (!raw) {
          why = "a \"$bytes\" value is not base64";
          return false;
        }
        put_key();
        b.Blob(raw->data(), raw->size());
        return true;
      }
      auto start = key ? b.StartMap(key) : b.StartMap();
      for (auto& [k, v] : j.items())
        if (!build(b, v, k.c_str(), why))
          return false;
      b.EndMap(start);
      return true;
    }
    default:
      why = "a JSON value of an unsupported type";
      return false;
  }
}

} // namespace

std::optional<std::string> value_of_json(const std::string& text,
                                         std::string& why) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    why = fmt::format("'{}' is not JSON (a string needs quotes: '\"yes\"')",
                      text);
    return std::nullopt;
  }
  flexbuffers::Builder b;
  if (!build(b, j, nullptr, why))
    return std::nullopt;
  b.Finish();
  auto& buf = b.GetBuffer();
  return std::string{reinterpret_cast<const char*>(buf.data()), buf.size()};
}

int cmd_signal(const context& ctx, const signal_args& a) {
  if (auto why = rec::check_signal_name(a.name); !why.empty())
    return fail(ctx, exit_code::usage, why);
  std::string why;
  auto value = value_of_json(a.json_value, why);
  if (!value)
    return fail(ctx, exit_code::usage, why);
  int code = 0;
  auto s = open_stream(ctx, a.id, code,
                       {.write = true,
                        .kind = eventlog::stream_kind::workflow,
                        .command = "signal"});
  if (!s)
    return code;
  auto stream = rec::signal_stream(a.id);
  auto payload = codec::encode(rec::signal_sent{.workflow = a.id,
                                                .name = a.name,
                                                .value = {std::move(*value)},
                                                .sender = "cli"});
  // As engine::signal: expecting the workflow's last seq keeps a signal
  // from being stored after the workflow ended.
  for (int round = 0;; ++round) {
    auto& info = s->info;
    if (info.status == "canceled")
      return fail(ctx, exit_code::refused,
                  fmt::format("workflow '{}' is canceled; signal '{}' was "
                              "not stored",
                              a.id, a.name));
    if (info.status != "running")
      return fail(ctx, exit_code::refused,
                  fmt::format("workflow '{}' already finished ({}); signal "
                              "'{}' was not stored",
                              a.id, info.status, a.name));
    eventlog::write_batch b;
    b.expect_last(a.id, info.last_seq);
    b.create(stream, eventlog::stream_kind::listener);
    b.append(stream, rec::to_u16(rec::record_kind::signal_sent), payload);
    auto done = s->log->commit(std::move(b));
    if (!done && done.error() == errc::conflict && round < 100) {
      auto again = s->log->info(a.id);
      if (!again)
        return fail(ctx, again.error());
      info = std::move(*again);
      continue;
    }
    if (!done)
      return fail(ctx, done.error());
    auto seq = done->seqs.empty() ? 0 : done->seqs.front();
    if (ctx.json)
      ctx.out() << dump_pretty(json{{"id", a.id},
                                    {"signal", a.name},
                                    {"stream", stream},
                                    {"seq", seq}})
                << '\n';
    else
      ctx.out() << "sent signal '" << a.name << "' to workflow '" << a.id
                << "' (" << stream << " seq " << seq << ")\n";
    return 0;
  }
}

} // namespace perdure::tools
