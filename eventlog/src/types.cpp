// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/types.hpp"

#include <chrono>

#include <fmt/format.h>

namespace perdure::eventlog {

time_ns now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto c0 = b(i);
  std::size_t n = c0 < 0x80 ? 1 : (c0 >> 5) == 0x6 ? 2 : (c0 >> 4) == 0xE ? 3
                              : (c0 >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  std::uint32_t cp = n == 1 ? c0 : n == 2 ? (c0 & 0x1F) : n == 3 ? (c0 & 0x0F)
                                                                 : (c0 & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr std::uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

} // namespace

std::string check_stream_id(std::string_view id) {
  if (id.empty())
    return "a stream id must not be empty";
  if (id.size() > max_stream_id_size)
    return fmt::format("stream id of {} bytes is longer than the {} allowed",
                       id.size(), max_stream_id_size);
  for (std::size_t i = 0; i < id.size();) {
    auto c = static_cast<unsigned char>(id[i]);
    if (c < 0x20 || c == 0x7F)
      return fmt::format("stream id contains control character 0x{:02x} at "
                         "byte {}",
                         c, i);
    auto n = utf8_length(id, i);
    if (n == 0)
      return fmt::format("stream id is not valid UTF-8 (byte {})", i);
    i += n;
  }
  return {};
}

std::string_view to_string(stream_kind kind) noexcept {
  switch (kind) {
    case stream_kind::other: return "other";
    case stream_kind::workflow: return "workflow";
    case stream_kind::actor: return "actor";
    case stream_kind::listener: return "listener";
    case stream_kind::dead_letter: return "dead_letter";
  }
  return "unknown";
}

std::string_view kind_name(std::uint16_t kind) noexcept {
  switch (static_cast<record_kind>(kind)) {
    case record_kind::user: return "user";
    case record_kind::change_note: return "change_note";
    case record_kind::workflow_submitted: return "workflow_submitted";
    case record_kind::step_started: return "step_started";
    case record_kind::step_succeeded: return "step_succeeded";
    case record_kind::step_failed: return "step_failed";
    case record_kind::step_continued: return "step_continued";
    case record_kind::workflow_succeeded: return "workflow_succeeded";
    case record_kind::workflow_failed: return "workflow_failed";
    case record_kind::workflow_canceled: return "workflow_canceled";
    case record_kind::workflow_resumed: return "workflow_resumed";
    case record_kind::event_received: return "event_received";
    case record_kind::timer_set: return "timer_set";
    case record_kind::signal_sent: return "signal_sent";
    case record_kind::promise_settled: return "promise_settled";
    case record_kind::child_started: return "child_started";
    case record_kind::workflow_continued: return "workflow_continued";
    case record_kind::run_record: return "run_record";
    case record_kind::schedule_fired: return "schedule_fired";
    case record_kind::actor_created: return "actor_created";
    case record_kind::actor_called: return "actor_called";
    case record_kind::actor_call_failed: return "actor_call_failed";
    case record_kind::actor_snapshot: return "actor_snapshot";
    case record_kind::actor_call_completed: return "actor_call_completed";
    case record_kind::actor_events: return "actor_events";
    case record_kind::actor_feed: return "actor_feed";
    case record_kind::actor_tell: return "actor_tell";
    case record_kind::source_record: return "source_record";
    case record_kind::dead_letter: return "dead_letter";
  }
  return "unknown";
}

} // namespace perdure::eventlog
