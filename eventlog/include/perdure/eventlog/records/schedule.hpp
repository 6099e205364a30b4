// SPDX-License-Identifier: Apache-2.0
#pragma once

// The storage layout of schedules (FORMAT.md, "Schedules"): stream
// `schedule/<name>` (kind other) whose directory metadata is the
// schedule's definition and state, and one `schedule_fired` record per
// tick that started a workflow (in the same batch as that workflow's first
// records) or that marks where a resume starts counting ticks again.

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::schedule_records {

/// The directory metadata of `schedule/<name>`.
struct schedule_meta {
  std::string spec;      ///< "every 100ms", "@daily", "0 2 * * *" (UTC)
  std::string catch_up;  ///< "skip", "run_once" or "run_all"
  bool paused = false;
};

/// A tick: `workflow` started for it (its id), or empty for a resume
/// marker (ticks up to `tick_ns` are never caught up).
struct schedule_fired {
  std::int64_t tick_ns = 0; ///< the tick's time, ns since the epoch (UTC)
  std::string workflow;
};

/// The record kind of schedule_fired (record_kind::schedule_fired).
inline constexpr std::uint16_t fired_kind =
  static_cast<std::uint16_t>(eventlog::record_kind::schedule_fired);

/// "schedule/<name>".
inline std::string stream_of(std::string_view name) {
  return "schedule/" + std::string{name};
}

PERDURE_FIELDS(schedule_meta, spec, catch_up, paused)
PERDURE_FIELDS(schedule_fired, tick_ns, workflow)

/// A schedule as stored.
struct schedule_state {
  std::string name;
  schedule_meta meta;
  std::optional<std::int64_t> last_tick_ns; ///< the last schedule_fired's
  std::uint64_t last_seq = 0; ///< the stream's (a change expects it)
};

/// The stored schedule `name`; not_found when there is none.
inline result<schedule_state> read_schedule(const eventlog::event_log& log,
                                            std::string_view name) {
  auto info = log.info(stream_of(name));
  if (!info) {
    if (info.error() == errc::not_found)
      return unexpected{errc::not_found,
                        fmt::format("no schedule '{}'", name)};
    return std::move(info).error();
  }
  schedule_state out;
  out.name = std::string{name};
  out.last_seq = info->last_seq;
  auto m = codec::decode<schedule_meta>(info->metadata);
  if (!m)
    return unexpected{errc::corruption,
                      fmt::format("schedule '{}': bad metadata: {}", name,
                                  m.error().message())};
  out.meta = std::move(*m);
  if (info->last_seq >= info->first_seq && info->first_seq > 0) {
    auto last = log.read_last(stream_of(name));
    if (!last)
      return std::move(last).error();
    auto f = codec::decode<schedule_fired>(last->payload);
    if (!f)
      return unexpected{errc::corruption,
                        fmt::format("schedule '{}' seq {}: {}", name,
                                    last->seq, f.error().message())};
    out.last_tick_ns = f->tick_ns;
  }
  return out;
}

/// Every stored schedule of `log`, by name.
inline result<std::vector<schedule_state>>
list_schedules(const eventlog::event_log& log) {
  auto all = log.list(eventlog::stream_kind::other);
  if (!all)
    return std::move(all).error();
  std::vector<schedule_state> out;
  constexpr std::string_view prefix = "schedule/";
  for (auto& s : *all) {
    std::string_view id = s.id;
    if (!id.starts_with(prefix))
      continue;
    auto one = read_schedule(log, id.substr(prefix.size()));
    if (!one)
      return std::move(one).error();
    out.push_back(std::move(*one));
  }
  return out;
}

/// Pauses (or resumes) schedule `name`; a resume also logs a mark at
/// `now_ns` so that the ticks of the pause are never caught up. Safe
/// beside a running engine (the batch expects the stream's last seq).
inline status set_paused(eventlog::event_log& log, std::string_view name,
                         bool paused, std::int64_t now_ns) {
  for (int round = 0; round < 100; ++round) {
    auto info = log.info(stream_of(name));
    if (!info) {
      if (info.error() == errc::not_found)
        return {errc::not_found, fmt::format("no schedule '{}'", name)};
      return info.error();
    }
    auto m = codec::decode<schedule_meta>(info->metadata);
    if (!m)
      return {errc::corruption, fmt::format("schedule '{}': bad metadata: "
                                            "{}",
                                            name, m.error().message())};
    if (m->paused == paused)
      return {};
    m->paused = paused;
    eventlog::write_batch b;
    b.expect_last(stream_of(name), info->last_seq);
    b.set_metadata(stream_of(name), codec::encode(*m));
    if (!paused)
      b.append(stream_of(name), fired_kind,
               codec::encode(schedule_fired{now_ns, {}}));
    auto r = log.commit(std::move(b));
    if (r || r.error() != errc::conflict)
      return r.as_status();
  }
  return {errc::conflict, fmt::format("schedule '{}' kept changing", name)};
}

/// Removes schedule `name` and its records (not its workflows).
inline status remove_schedule(eventlog::event_log& log,
                              std::string_view name) {
  if (auto i = log.info(stream_of(name)); !i) {
    if (i.error() == errc::not_found)
      return {errc::not_found, fmt::format("no schedule '{}'", name)};
    return i.error();
  }
  eventlog::write_batch b;
  b.remove(stream_of(name));
  return log.commit(std::move(b)).as_status();
}

} // namespace perdure::schedule_records
