// SPDX-License-Identifier: Apache-2.0
// The event sources behind wait_for_event: the timer source (one thread per
// engine sleeping until the earliest armed deadline) and the poll source
// (custom listeners, polls on a bounded pool of listener threads).

#include "perdure/listeners/events.hpp"

#include "perdure/eventlog/log_sink.hpp"
#include "perdure/eventlog/types.hpp"

#include "listener_pool.hpp"

#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace perdure {

namespace {

thread_local cancellation_token current_listener_token;

} // namespace

cancellation_token listener_token() {
  return current_listener_token;
}

namespace detail {

namespace {

// -- timers ----------------------------------------------------------------------

// Deadlines come from the log (timer_set, with an entry in the durable timer
// index in the same batch); this queue holds the armed waits of live
// workflows, so a sleeping workflow costs one map entry and no thread.
class timer_source final : public event_source {
 public:
  timer_source() : thread_([this] { loop(); }) {
  }
  ~timer_source() override {
    stop();
  }

  void arm(std::shared_ptr<event_wait> w) override {
    if (!w->due) {
      w->deliver(outcome::failure("perdure::invalid_argument",
                                  "a timer wait without a deadline"),
                 {});
      return;
    }
    std::lock_guard guard{mu_};
    // Waits dropped before their deadline (a race's losing timer, a
    // canceled workflow) are skipped when due; sweep them now and then so
    // long timeouts that lost do not pile up.
    if (++arms_ % 256 == 0)
      std::erase_if(queue_, [](auto& e) { return e.second->dropped->load(); });
    bool earliest = queue_.empty() || *w->due < queue_.begin()->first;
    queue_.emplace(*w->due, std::move(w));
    if (earliest)
      cv_.notify_one();
  }

  void stop() override {
    {
      std::lock_guard guard{mu_};
      if (stopped_)
        return;
      stopped_ = true;
      queue_.clear();
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  void loop() {
    std::unique_lock guard{mu_};
    while (!stopped_) {
      if (queue_.empty()) {
        cv_.wait(guard);
        continue;
      }
      auto due = queue_.begin()->first;
      if (due > eventlog::now_ns()) {
        std::chrono::system_clock::time_point tp{
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds{due})};
        cv_.wait_until(guard, tp);
        continue;
      }
      std::vector<std::shared_ptr<event_wait>> fire;
      auto now = eventlog::now_ns();
      while (!queue_.empty() && queue_.begin()->first <= now) {
        fire.push_back(std::move(queue_.begin()->second));
        queue_.erase(queue_.begin());
      }
      guard.unlock();
      for (auto& w : fire) {
        if (w->dropped->load())
          continue;
        outcome o;
        o.what = outcome::kind::value;
        o.bytes = encode_value(timer_event{*w->due, eventlog::now_ns()});
        w->deliver(std::move(o), {});
      }
      guard.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::int64_t, std::shared_ptr<event_wait>> queue_;
  std::uint64_t arms_ = 0;
  bool stopped_ = false;
  std::thread thread_;
};

// -- custom listeners ------------------------------------------------------------

class poll_source final : public event_source,
                          public std::enable_shared_from_this<poll_source> {
 public:
  poll_source(std::function<void(const std::string&)> checkpointed,
              std::size_t threads, std::chrono::milliseconds repoll)
    : checkpointed_(std::move(checkpointed)), pool_(threads),
      repoll_(repoll) {
  }
  ~poll_source() override {
    stop();
  }

  void arm(std::shared_ptr<event_wait> w) override {
    poll(std::move(w), {});
  }

  void checkpointed(const event_wait& w, const std::string& bytes) override {
    pool_.run([fn = checkpointed_, bytes, wf = w.workflow, step = w.step,
               log = this->log] {
      try {
        fn(bytes);
      } catch (const std::exception& e) {
        // The event is durable whatever happens here; report and go on.
        eventlog::emit(log, eventlog::log_level::warning,
                       fmt::format("event_checkpointed of workflow '{}' step "
                                   "'{}' threw: {}",
                                   wf, step, e.what()));
      } catch (...) {
        eventlog::emit(log, eventlog::log_level::warning,
                       fmt::format("event_checkpointed of workflow '{}' step "
                                   "'{}' threw",
                                   wf, step));
      }
    });
  }

  void stop() override {
    std::lock_guard guard{stop_mu_};
    if (stopped_)
      return;
    stopped_ = true;
    // Every wait was dropped (its token is set): a cooperative poll returns
    // soon; one that does not is abandoned, never waited for.
    auto left = pool_.stop(std::chrono::steady_clock::now()
                           + std::chrono::milliseconds{500});
    if (left > 0)
      eventlog::emit(log, eventlog::log_level::warning,
                     fmt::format("{} listener poll(s) did not return after "
                                 "their wait was dropped (listener_token() "
                                 "set); left running, their events are not "
                                 "taken",
                                 left));
  }

 private:
  // Polls `w` once on the pool; a listener returning std::optional that
  // has no event yet is polled again `repoll_` later, holding no thread in
  // between.
  void poll(std::shared_ptr<event_wait> w,
            std::chrono::steady_clock::time_point not_before) {
    pool_.run(
      [w, self = weak_from_this()]() mutable {
        if (w->dropped->load())
          return; // canceled (or stopped) while queued: nobody waits
        current_listener_token = cancellation_token{w->dropped};
        // invoke decodes the arguments, calls poll_for_event and encodes
        // the event; an exception becomes a failed attempt.
        auto out = w->def->invoke(w->inputs);
        current_listener_token = {};
        if (out.what == outcome::kind::error
            && out.error_type == "perdure::detail::no_event_yet") {
          if (auto me = self.lock())
            me->poll(std::move(w),
                     std::chrono::steady_clock::now() + me->repoll_);
          return;
        }
        w->deliver(std::move(out), {});
      },
      not_before);
  }

  std::function<void(const std::string&)> checkpointed_;
  listener_pool pool_;
  std::chrono::milliseconds repoll_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

result<std::int64_t> first_int(std::vector<input>& in) {
  if (in.size() != 1)
    return unexpected{errc::type_mismatch, "a timer takes one argument"};
  return decode_value<std::int64_t>(in[0].bytes);
}

std::shared_ptr<const step_def> make_timer_def(std::string name, bool sleep) {
  auto def = make_step_def(
    std::move(name),
    [](std::int64_t) -> timer_event {
      throw std::logic_error{"a timer node has no body"};
    },
    step_options{}, type_list<std::int64_t>{});
  def->source_name = "perdure.timer";
  def->make_source = [] { return make_timer_source(); };
  def->deadline = [sleep](std::vector<input>& in) -> result<std::int64_t> {
    auto v = first_int(in);
    if (!v)
      return v;
    if (!sleep)
      return *v;
    if (*v < 0)
      return unexpected{errc::invalid_argument,
                        "sleep: the duration is negative"};
    return eventlog::now_ns() + *v;
  };
  return register_step(std::move(def));
}

} // namespace

std::shared_ptr<event_source> make_timer_source() {
  return std::make_shared<timer_source>();
}

std::shared_ptr<event_source> make_poll_source(
  std::function<void(const std::string&)> checkpointed, std::size_t threads,
  std::chrono::milliseconds repoll) {
  return std::make_shared<poll_source>(std::move(checkpointed), threads,
                                       repoll);
}

std::shared_ptr<const step_def> timer_at_def() {
  static const auto def = make_timer_def("perdure.timer", false);
  return def;
}

std::shared_ptr<const step_def> sleep_def() {
  static const auto def = make_timer_def("perdure.sleep", true);
  return def;
}

namespace {
// Registered before main so that resumed workflows find them.
[[maybe_unused]] const bool timers_registered = (timer_at_def(), sleep_def(),
                                                 true);
} // namespace

} // namespace detail
} // namespace perdure
