// SPDX-License-Identifier: Apache-2.0
// Schedules (perdure/runtime/schedule.hpp): one ticker thread per engine
// that has schedules. A tick's workflow and its schedule_fired record go
// in one batch (engine::submit_batch), so a tick starts its workflow once;
// the stored state (paused, the last tick) is read again at every tick, so
// `perdure schedule pause` beside the engine takes effect at the next one.

#include "perdure/runtime/schedule.hpp"

#include "perdure/eventlog/log_sink.hpp"
#include "perdure/eventlog/records/schedule.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <fmt/format.h>

#include <cctype>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

namespace perdure {

std::string_view to_string(catch_up c) noexcept {
  switch (c) {
    case catch_up::skip: return "skip";
    case catch_up::run_once: return "run_once";
    case catch_up::run_all: return "run_all";
  }
  return "run_once";
}

namespace detail {

namespace {

namespace sr = schedule_records;
using clock = std::chrono::system_clock;

catch_up catch_up_of(std::string_view s) {
  return s == "skip" ? catch_up::skip
         : s == "run_all" ? catch_up::run_all
                          : catch_up::run_once;
}

std::int64_t ns_of(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           t.time_since_epoch())
    .count();
}

clock::time_point time_of(std::int64_t ns) {
  return clock::time_point{std::chrono::duration_cast<clock::duration>(
    std::chrono::nanoseconds{ns})};
}

// "2026-12-04T02:00:00.000Z"
std::string iso_utc(clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              t.time_since_epoch())
              .count();
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

bool good_name(std::string_view n) {
  if (n.empty() || n.size() > 100)
    return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.'
        && c != '-')
      return false;
  return true;
}

schedule_info info_of(const sr::schedule_state& s) {
  schedule_info i{s.name, s.meta.spec, catch_up_of(s.meta.catch_up),
                  s.meta.paused, std::nullopt};
  if (s.last_tick_ns)
    i.last_tick = time_of(*s.last_tick_ns);
  return i;
}

struct entry {
  schedule_spec spec;
  tick_factory factory;
  schedule_options opts;
  clock::time_point next;
};

// The tick to fire after `fired` (or first, when nothing fired yet is
// passed as `from`), given the policy for ticks already past at `now`.
clock::time_point next_tick(const entry& e, clock::time_point from,
                            clock::time_point now) {
  auto first = e.spec.next_after(from);
  if (first > now || e.opts.missed == catch_up::run_all)
    return first;
  if (e.opts.missed == catch_up::skip)
    return e.spec.next_after(now);
  auto latest = first; // run_once: the latest tick not after now
  for (int i = 0; i < 10'000'000; ++i) {
    auto n = e.spec.next_after(latest);
    if (n > now)
      break;
    latest = n;
  }
  return latest;
}

class schedule_service final : public engine_service {
 public:
  explicit schedule_service(engine& eng) : eng_(eng) {
  }
  ~schedule_service() override {
    stop();
  }

  void stop() override {
    {
      std::lock_guard g{mu_};
      stopping_ = true;
    }
    cv_.notify_all();
    if (ticker_.joinable() && ticker_.get_id() != std::this_thread::get_id())
      ticker_.join();
  }

  result<schedule_info> add(std::string name, std::string spec_text,
                            tick_factory factory, schedule_options opts) {
    if (!good_name(name))
      return unexpected{errc::invalid_argument,
                        fmt::format("bad schedule name '{}': 1..100 of "
                                    "[A-Za-z0-9_.-]",
                                    name)};
    auto spec = schedule_spec::parse(spec_text);
    if (!spec)
      return std::move(spec).error();
    std::unique_lock g{mu_};
    if (stopping_)
      return unexpected{errc::closed, "the engine is shutting down"};
    if (entries_.count(name))
      return unexpected{errc::conflict,
                        fmt::format("schedule '{}' is declared already on "
                                    "this engine",
                                    name)};
    auto& log = *eng_.event_log();
    sr::schedule_meta meta{spec_text, std::string{to_string(opts.missed)},
                           false};
    auto stored = sr::read_schedule(log, name);
    if (!stored && stored.error() != errc::not_found)
      return std::move(stored).error();
    eventlog::write_batch b;
    if (!stored) {
      b.create(sr::stream_of(name), eventlog::stream_kind::other,
               codec::encode(meta));
    } else {
      meta.paused = stored->meta.paused;
      b.expect_last(sr::stream_of(name), stored->last_seq);
      b.set_metadata(sr::stream_of(name), codec::encode(meta));
    }
    if (auto r = log.commit(std::move(b)); !r)
      return r.error();
    entry e{*spec, std::move(factory), opts, {}};
    auto now = clock::now();
    e.next = stored && stored->last_tick_ns
               ? next_tick(e, time_of(*stored->last_tick_ns), now)
               : e.spec.next_after(now);
    if (e.opts.missed == catch_up::run_all && e.next <= now) {
      // At most max_catch_up missed ticks run: the latest ones.
      std::size_t missed = 0;
      for (auto t = e.next; t <= now && missed < 10'000'000;
           t = e.spec.next_after(t))
        ++missed;
      for (auto k = opts.max_catch_up; k < missed; ++k)
        e.next = e.spec.next_after(e.next);
    }
    schedule_info out{name, spec_text, opts.missed, meta.paused,
                      std::nullopt};
    if (stored && stored->last_tick_ns)
      out.last_tick = time_of(*stored->last_tick_ns);
    entries_.emplace(std::move(name), std::move(e));
    if (!ticker_.joinable())
      ticker_ = std::thread{[this] {
        eventlog::set_thread_name("perdure-sched");
        run();
      }};
    g.unlock();
    cv_.notify_all();
    return out;
  }

  void forget(std::string_view name) {
    std::lock_guard g{mu_};
    entries_.erase(std::string{name});
  }

 private:
  void run() {
    std::unique_lock g{mu_};
    while (!stopping_) {
      auto due = clock::time_point::max();
      for (auto& [n, e] : entries_)
        due = std::min(due, e.next);
      if (due == clock::time_point::max()) {
        cv_.wait(g);
        continue;
      }
      if (clock::now() < due) {
        cv_.wait_until(g, due);
        continue; // look again: woken early, stopped or changed
      }
      auto now = clock::now();
      for (auto it = entries_.begin(); it != entries_.end() && !stopping_;) {
        if (it->second.next > now) {
          ++it;
          continue;
        }
        auto name = it->first;
        auto tick = it->second.next;
        auto factory = it->second.factory;
        g.unlock();
        bool keep = fire(name, tick, factory);
        g.lock();
        it = entries_.find(name);
        if (it == entries_.end())
          continue; // deleted meanwhile: restart from the front
        if (!keep) {
          it = entries_.erase(it);
          continue;
        }
        it->second.next = next_tick(it->second, tick, clock::now());
        ++it;
      }
    }
  }

  // Starts the workflow of `tick` unless the schedule is paused; false
  // when the schedule is gone (deleted from the storage). The tick's batch
  // expects the schedule stream as read: a pause or delete committed
  // meanwhile (by the API or the CLI) makes it fail whole, and the state
  // is read again.
  bool fire(const std::string& name, clock::time_point tick,
            const tick_factory& factory) {
    auto& log = *eng_.event_log();
    std::shared_ptr<node> root;
    auto id = name + "/" + iso_utc(tick);
    for (int round = 0; round < 100; ++round) {
      auto stored = sr::read_schedule(log, name);
      if (!stored) {
        if (stored.error() == errc::not_found)
          return false;
        warn(fmt::format("schedule '{}': {}", name,
                         stored.error().message()));
        return true;
      }
      if (stored->meta.paused)
        return true;
      if (stored->last_tick_ns && *stored->last_tick_ns >= ns_of(tick))
        return true; // fired already (or resumed after it)
      if (!root) {
        try {
          root = factory(tick);
        } catch (const std::exception& e) {
          warn(fmt::format("schedule '{}': the factory threw at tick {}: "
                           "{}",
                           name, iso_utc(tick), e.what()));
          return true;
        }
      }
      std::vector<new_run> runs;
      runs.push_back(new_run{root, id, {}, {}});
      auto r = eng_.submit_batch(std::move(runs),
                                 [&](eventlog::write_batch& b) {
        b.expect_last(sr::stream_of(name), stored->last_seq);
        b.append(sr::stream_of(name), sr::fired_kind,
                 codec::encode(sr::schedule_fired{ns_of(tick), id}));
      });
      if (r)
        return true;
      if (r.error() == errc::conflict || r.error() == errc::not_found)
        continue; // changed meanwhile: look again
      if (r.error() != errc::closed)
        warn(fmt::format("schedule '{}': tick {} not started: {}", name,
                         iso_utc(tick), r.error().message()));
      return true;
    }
    return true;
  }

  void warn(const std::string& message) {
    eventlog::emit(eng_.options().log, eventlog::log_level::warning,
                   message);
  }

  engine& eng_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, entry> entries_; // guarded by mu_
  bool stopping_ = false;                // guarded by mu_
  std::thread ticker_;
};

std::shared_ptr<schedule_service> service_of(engine& eng) {
  return eng.service<schedule_service>(
    [&eng] { return std::make_shared<schedule_service>(eng); });
}

} // namespace

result<schedule_info> add_schedule(engine& eng, std::string name,
                                   std::string spec, tick_factory factory,
                                   schedule_options opts) {
  return service_of(eng)->add(std::move(name), std::move(spec),
                              std::move(factory), opts);
}

} // namespace detail

perdure::status pause_schedule(engine& eng, std::string_view name) {
  return schedule_records::set_paused(
    *eng.event_log(), name, true,
    detail::ns_of(std::chrono::system_clock::now()));
}

perdure::status resume_schedule(engine& eng, std::string_view name) {
  return schedule_records::set_paused(
    *eng.event_log(), name, false,
    detail::ns_of(std::chrono::system_clock::now()));
}

perdure::status delete_schedule(engine& eng, std::string_view name) {
  auto st = schedule_records::remove_schedule(*eng.event_log(), name);
  if (st)
    detail::service_of(eng)->forget(name);
  return st;
}

result<std::vector<schedule_info>> list_schedules(engine& eng) {
  auto all = schedule_records::list_schedules(*eng.event_log());
  if (!all)
    return std::move(all).error();
  std::vector<schedule_info> out;
  for (auto& s : *all)
    out.push_back(detail::info_of(s));
  return out;
}

} // namespace perdure
