// SPDX-License-Identifier: Apache-2.0
#pragma once

// Schedules: a workflow started on every tick of a calendar or an
// interval, exactly once per tick, across restarts.
//
//   auto s = perdure::schedule<std::string>(eng, "nightly", "0 2 * * *",
//     [](auto tick) { return report(day_of(tick)); },
//     {.missed = perdure::catch_up::run_once});
//
// Each tick's workflow has the id `<name>/<tick>` (the tick in UTC,
// "2026-12-04T02:00:00.000Z") and is submitted in one batch with the
// tick's `schedule_fired` record in stream `schedule/<name>`: a tick starts
// its workflow once, whatever crashes. The definition and state live in
// the storage; the application declares each schedule again when it opens
// its engine (the factory is code), and the ticks missed while no engine
// ran are caught up as `missed` says. Pause, resume, list and delete work
// from the API and from `perdure schedule` (beside a running engine: a
// pause takes effect at the next tick). See runtime/README.md
// ("Schedules").

#include "perdure/runtime/engine.hpp"
#include "perdure/runtime/graph.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perdure {

/// What happens to the ticks that passed while no engine ran (or before a
/// schedule was declared again).
enum class catch_up : std::uint8_t {
  skip,     ///< none runs; the next tick is the next one after now
  run_once, ///< the latest missed tick runs, once
  run_all,  ///< every missed tick runs, oldest first (up to max_catch_up)
};

/// "skip", "run_once", "run_all".
std::string_view to_string(catch_up c) noexcept;

struct schedule_options {
  catch_up missed = catch_up::run_once;
  /// run_all: at most this many missed ticks (the latest ones) run.
  std::size_t max_catch_up = 1000;
};

/// A schedule as stored.
struct schedule_info {
  std::string name;
  std::string spec;
  catch_up missed = catch_up::run_once;
  bool paused = false;
  /// The latest tick that started a workflow (or a resume's mark).
  std::optional<std::chrono::system_clock::time_point> last_tick;
};

namespace detail {

/// A parsed schedule spec: `every <n><unit>` (`ms`, `s`, `m`, `h`, `d`;
/// ticks at multiples of the interval since the epoch, UTC), `@hourly`,
/// `@daily`, `@weekly`, `@monthly`, or five cron fields `minute hour
/// day-of-month month day-of-week` in UTC (`*`, `n`, `a-b`, lists `a,b`,
/// steps `*/n` and `a-b/n`; day-of-week 0-7, Sunday 0 or 7; when both
/// day fields are restricted, either matches, as cron does).
class schedule_spec {
 public:
  /// `invalid_argument` naming what is wrong.
  static result<schedule_spec> parse(std::string_view text);

  /// The first tick strictly after `t`.
  std::chrono::system_clock::time_point
  next_after(std::chrono::system_clock::time_point t) const;

 private:
  std::chrono::nanoseconds every_{0}; ///< an interval spec; else cron
  std::uint64_t minutes_ = 0;         ///< bit n: minute n
  std::uint32_t hours_ = 0, days_ = 0, months_ = 0;
  std::uint8_t weekdays_ = 0;
  bool any_day_ = true, any_weekday_ = true;
};

/// Makes the root node of the workflow of one tick.
using tick_factory = std::function<std::shared_ptr<node>(
  std::chrono::system_clock::time_point)>;

result<schedule_info> add_schedule(engine& eng, std::string name,
                                   std::string spec, tick_factory factory,
                                   schedule_options opts);

} // namespace detail

/// Declares schedule `name` (1..100 of [A-Za-z0-9_.-]) with `spec` (see
/// detail::schedule_spec): from now on, `factory(tick)` runs as workflow
/// `<name>/<tick>` on every tick while this engine is open and the
/// schedule is not paused. A stored schedule keeps its state (paused, last
/// tick) and takes the new spec and options; ticks missed since its last
/// one are caught up as `opts.missed` says. Errors: invalid_argument (name
/// or spec), conflict (declared twice on this engine), closed.
template <class T, class Factory>
result<schedule_info> try_schedule(engine& eng, std::string name,
                                   std::string spec, Factory factory,
                                   schedule_options opts = {}) {
  detail::tick_factory make =
    [f = std::move(factory)](std::chrono::system_clock::time_point tick) {
      workflow<T> wf = f(tick);
      return wf.node();
    };
  return detail::add_schedule(eng, std::move(name), std::move(spec),
                              std::move(make), opts);
}

template <class T, class Factory>
schedule_info schedule(engine& eng, std::string name, std::string spec,
                       Factory factory, schedule_options opts = {}) {
  return value_or_throw(try_schedule<T>(eng, std::move(name),
                                        std::move(spec), std::move(factory),
                                        opts));
}

/// Stops firing ticks until resumed (ticks meanwhile never run). Works
/// beside a running engine and without one. not_found for an unknown name.
perdure::status pause_schedule(engine& eng, std::string_view name);
/// Fires again from the next tick on; the ticks of the pause are not
/// caught up.
perdure::status resume_schedule(engine& eng, std::string_view name);
/// Removes the schedule and its ticks' records (not their workflows).
perdure::status delete_schedule(engine& eng, std::string_view name);
/// Every stored schedule, by name.
result<std::vector<schedule_info>> list_schedules(engine& eng);

} // namespace perdure
