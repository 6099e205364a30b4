// SPDX-License-Identifier: Apache-2.0
// The signal source: waits are queued per (workflow, name); one thread
// hands the head of a queue the first signal of its name at or after the
// stored offset, with the offset past it (committed by the runtime in the
// same batch as the wait's event_received). Until that offset is visible
// (or the wait was dropped) the queue's next wait gets nothing, so two
// waits of one name never receive the same signal. A signal sent from
// this engine to an armed wait with nothing of its name pending is handed
// over directly (direct()): the wait's batch stores it marked `direct`,
// consumed, and scans skip it. Durable promises
// (wait_for_promise) use the same thread and stream: a promise wait gets
// the one promise_settled record of its name, read, never consumed.

#include "signal_source.hpp"

#include "perdure/eventlog/log_sink.hpp"
#include "perdure/eventlog/records/promise.hpp"
#include "perdure/eventlog/records/workflow.hpp"
#include "perdure/runtime/metrics.hpp"
#include "perdure/runtime/promise.hpp"
#include "perdure/runtime/values.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace perdure::detail {

namespace rec = perdure::records;

namespace {

struct delivery {
  std::shared_ptr<event_wait> wait;
  outcome out;
  std::vector<std::pair<std::string, std::int64_t>> offsets;
};

class log_signal_source final : public signal_source {
 public:
  log_signal_source(std::weak_ptr<eventlog::event_log> log,
                    std::chrono::milliseconds poll)
    : log_(std::move(log)),
      poll_(poll.count() > 0 ? poll : std::chrono::milliseconds{500}) {
  }
  ~log_signal_source() override {
    stop();
  }

  void arm(std::shared_ptr<event_wait> w) override {
    auto name = w->inputs.size() == 1 && !w->inputs[0].is_list
                  ? decode_value<std::string>(w->inputs[0].bytes)
                  : result<std::string>{unexpected{errc::type_mismatch,
                                                   "no signal name"}};
    if (!name) {
      w->deliver(outcome::failure("perdure::type_mismatch",
                                  "a signal wait without a name: "
                                    + name.error().message()),
                 {});
      return;
    }
    std::lock_guard guard{mu_};
    if (stopped_)
      return;
    auto wf = w->workflow;
    bool promise = w->def->name.starts_with(promise_def_prefix);
    auto& ks = keys_[{wf, *name, promise}];
    ks.waits.push_back(std::move(w));
    recount(promise, ks);
    wake(wf);
  }

  void checkpointed(const event_wait& w, const std::string&) override {
    std::lock_guard guard{mu_};
    if (!stopped_ && !keys_.empty())
      wake(w.workflow);
  }

  void notify(const std::string& workflow) override {
    std::lock_guard guard{mu_};
    if (!stopped_ && !keys_.empty())
      wake(workflow);
  }

  bool direct(const std::string& workflow, const std::string& name,
              const std::string& value, std::string payload, std::string mark,
              std::function<void(status)> done) override {
    std::unique_lock guard{mu_};
    auto it = keys_.find(key{workflow, name, false});
    if (stopped_ || it == keys_.end())
      return false;
    auto& [k, s] = *it;
    if (s.handed || s.waits.empty() || s.waits.front()->dropped->load()
        || !s.waits.front()->deliver_direct)
      return false;
    auto lg = log_.lock();
    if (!lg)
      return false;
    // Only when no signal of this name is stored unconsumed: one sent
    // earlier is never passed (this engine's earlier ones are committed,
    // engine_signal.cpp's sender lock). The stream may not exist yet.
    auto info = lg->info(rec::signal_stream(workflow));
    if (!info && info.error() != errc::not_found)
      return false;
    if (info && (info->created != s.scanned_created
                 || info->last_seq != s.scanned_last)) {
      auto p = first_pending(k, s, *lg, *info);
      if (!p || p->seq != 0) {
        wake(workflow); // the usual path hands it out
        return false;
      }
      s.scanned_created = info->created;
      s.scanned_last = info->last_seq;
    }
    auto& w = s.waits.front();
    std::vector<input> in(1);
    in[0].bytes = value;
    auto o = w->def->invoke(in);
    if (o.what == outcome::kind::error)
      return false; // stored, and the wait reports it as today
    auto ev = std::make_shared<direct_event>();
    ev->stream = rec::signal_stream(workflow);
    ev->payload = std::move(payload);
    ev->mark = std::move(mark);
    ev->done = std::move(done);
    auto wait = std::move(w);
    s.waits.pop_front();
    recount(k.promise, s);
    publish();
    guard.unlock();
    wait->deliver_direct(std::move(o), std::move(ev));
    return true;
  }

  void stop() override {
    {
      std::lock_guard guard{mu_};
      if (stopped_)
        return;
      stopped_ = true;
      keys_.clear();
      ready_n_ = 0;
    }
    cv_.notify_one();
    if (thread_.joinable())
      thread_.join();
  }

 private:
  struct key {
    std::string workflow;
    std::string name;
    bool promise = false; ///< a promise's waits, not a signal's
    auto operator<=>(const key&) const = default;
  };

  struct key_state {
    std::deque<std::shared_ptr<event_wait>> waits;
    std::shared_ptr<event_wait> handed; ///< got a signal, not yet consumed
    eventlog::seq_t handed_seq = 0;
    std::string handed_key;
    // The signal stream as last scanned without finding one: nothing to
    // read again until it changes.
    eventlog::time_ns scanned_created = 0;
    eventlog::seq_t scanned_last = 0;
    bool idle = false; ///< the last look found nothing to hand out
    bool counted = false; ///< in ready_n_ (recount)
  };

  // Under mu_.
  void wake(const std::string& workflow) {
    dirty_.insert(workflow);
    if (!thread_.joinable())
      thread_ = std::thread{[this] {
        eventlog::set_thread_name("perdure-signal");
        loop();
      }};
    cv_.notify_one();
  }

  void loop() {
    std::unique_lock guard{mu_};
    auto last_all = std::chrono::steady_clock::now();
    while (!stopped_) {
      // Signals written by another process are found by this poll, also
      // while this engine's own signals keep the thread busy.
      if (std::chrono::steady_clock::now() - last_all >= poll_)
        all_ = true;
      if (dirty_.empty() && !all_) {
        cv_.wait_until(guard, last_all + poll_);
        continue;
      }
      // A poll looks at every key only when a tool beside the engine
      // committed since the last one: this engine's own signals and
      // settlements wake their workflows (signal_hub::committed), so an
      // idle key cannot have changed otherwise: idle waits cost nothing.
      bool quiet = false;
      if (all_) {
        last_all = std::chrono::steady_clock::now();
        quiet = unchanged_elsewhere();
      }
      std::vector<key> todo;
      if (all_) {
        for (auto& [k, s] : keys_)
          if (!quiet || !settled(s) || dirty_.count(k.workflow) > 0)
            todo.push_back(k);
      } else {
        // Only the woken workflows' keys (adjacent: ordered by workflow).
        for (auto& wf : dirty_)
          for (auto it = keys_.lower_bound(key{wf, {}, false});
               it != keys_.end() && it->first.workflow == wf; ++it)
            todo.push_back(it->first);
      }
      dirty_.clear();
      all_ = false;
      std::vector<delivery> out;
      for (auto& k : todo) {
        look(k, out);
        if (auto it = keys_.find(k); it != keys_.end())
          recount(k.promise, it->second);
      }
      publish();
      guard.unlock();
      for (auto& d : out)
        d.wait->deliver(std::move(d.out), std::move(d.offsets));
      out.clear();
      guard.lock();
    }
  }

  // Under mu_: whether no other writer committed since the last call that
  // said so (false on the first call and when the log cannot tell).
  bool unchanged_elsewhere() {
    auto lg = log_.lock();
    auto seen = lg ? lg->foreign_commits()
                   : result<std::uint64_t>{unexpected{errc::closed, ""}};
    bool same = seen && polled_ && *polled_ == *seen;
    polled_ = seen ? std::optional{*seen} : std::nullopt;
    return same;
  }

  // Under mu_: a key the last look left with nothing to do until a signal
  // comes (its head wait idle and live, nothing handed out).
  static bool settled(const key_state& s) {
    return s.idle && !s.handed
           && std::none_of(s.waits.begin(), s.waits.end(),
                           [](auto& w) { return w->dropped->load(); });
  }

  // Under mu_: after a change of `s`, whether it counts among the waits
  // that can take a signal straight from engine::signal (direct()).
  void recount(bool promise, key_state& s) {
    bool now = !promise && !s.handed && !s.waits.empty() && s.idle;
    if (now != s.counted) {
      s.counted = now;
      ready_n_ = now ? ready_n_ + 1 : ready_n_ - 1;
    }
  }

  // Under mu_: drops a key (its count with it).
  void erase_key(std::map<key, key_state>::iterator it) {
    if (it->second.counted)
      --ready_n_;
    keys_.erase(it);
  }

  // Under mu_: the gauge perdure_signal_waits_ready.
  void publish() {
    if (!metrics)
      return;
    if (!ready_)
      ready_ = &metrics->get_gauge(
        "perdure_signal_waits_ready",
        "Signal waits of this engine that take the next signal of their "
        "name straight from engine::signal, logged in one commit with its "
        "consumption (armed, nothing stored unconsumed).",
        {});
    ready_->set(static_cast<double>(ready_n_));
  }

  // Under mu_: hands the head wait of `k` its signal when one is there.
  void look(const key& k, std::vector<delivery>& out) {
    auto it = keys_.find(k);
    if (it == keys_.end())
      return;
    auto& s = it->second;
    auto lg = log_.lock();
    if (!lg)
      return;
    if (k.promise) {
      look_promise(it, *lg, out);
      return;
    }
    if (s.handed) {
      if (!s.handed->dropped->load()) {
        auto off = lg->offset(s.handed_key);
        if (!off || !*off || **off <= static_cast<std::int64_t>(s.handed_seq))
          return; // its consumption is not committed yet
      }
      s.handed.reset();
      s.scanned_last = 0; // a dropped hand-out is offered again
    }
    while (!s.waits.empty() && s.waits.front()->dropped->load())
      s.waits.pop_front();
    if (s.waits.empty()) {
      erase_key(it);
      return;
    }
    auto info = changed_since_scan(k, s, *lg);
    if (!info) {
      s.idle = true; // unchanged since a scan found nothing, or absent
      return;
    }
    auto p = first_pending(k, s, *lg, *info);
    if (!p) {
      report(k, p.error());
      return;
    }
    s.idle = p->seq == 0;
    if (p->seq == 0) {
      s.scanned_created = info->created;
      s.scanned_last = info->last_seq;
      return;
    }
    auto stream = rec::signal_stream(k.workflow);
    auto okey = signal_offset_key(info->created, k.workflow, k.name);
    auto found = p->seq;
    auto w = std::move(s.waits.front());
    s.waits.pop_front();
    s.handed = w;
    s.handed_seq = found;
    s.handed_key = okey;
    outcome o;
    if (!p->bad) {
      o = outcome::failure(
        "perdure::corruption",
        fmt::format("signal record {} of stream '{}': {}", found, stream,
                    p->bad.message()));
    } else {
      std::vector<input> in(1);
      in[0].bytes = std::move(p->value);
      o = w->def->invoke(in);
      if (o.what == outcome::kind::error)
        o.error_text = fmt::format(
          "signal '{}' (record {} of stream '{}') does not fit the wait "
          "'{}' of workflow '{}' ({}): {}",
          k.name, found, stream, w->step, k.workflow, w->def->name,
          o.error_text);
    }
    out.push_back({std::move(w), std::move(o),
                   {{okey, static_cast<std::int64_t>(found + 1)}}});
  }

  struct pending {
    eventlog::seq_t seq = 0; ///< 0: none
    std::string value;
    status bad; ///< the record at `seq` does not decode
  };

  // Under mu_: the first signal of `k`'s name at or after its stored
  // offset that is not consumed yet (direct ones are consumed as stored).
  // What the last scan of this stream (`s`) read is not read again.
  result<pending> first_pending(const key& k, const key_state& s,
                                eventlog::event_log& lg,
                                const eventlog::stream_info& info) {
    auto off = lg.offset(signal_offset_key(info.created, k.workflow, k.name));
    if (!off)
      return std::move(off).error();
    auto from = std::max<eventlog::seq_t>(
      std::max<std::int64_t>(off->value_or(1), 1), info.first_seq);
    if (info.created == s.scanned_created)
      from = std::max(from, s.scanned_last + 1);
    pending p;
    auto st = lg.scan(rec::signal_stream(k.workflow), from,
                      [&](const eventlog::record_view& r) {
      if (r.kind != rec::to_u16(rec::record_kind::signal_sent))
        return true;
      auto sig = codec::decode<rec::signal_sent>(r.payload);
      if (!sig) {
        p.bad = sig.error();
        p.seq = r.seq;
        return false;
      }
      if (sig->name != k.name || sig->direct)
        return true;
      p.seq = r.seq;
      p.value = std::move(sig->value.data);
      return false;
    });
    if (!st)
      return unexpected{std::move(st)};
    return p;
  }

  // Under mu_: the directory entry of `k`'s signal stream if it changed
  // since `s` last scanned it; nothing when it is absent, unchanged, or
  // unreadable (reported to the waits).
  std::optional<eventlog::stream_info>
  changed_since_scan(const key& k, const key_state& s,
                     eventlog::event_log& lg) {
    auto info = lg.info(rec::signal_stream(k.workflow));
    if (!info) {
      if (info.error() != errc::not_found)
        report(k, info.error());
      return std::nullopt;
    }
    if (info->created == s.scanned_created
        && info->last_seq == s.scanned_last)
      return std::nullopt;
    return *info;
  }

  // Under mu_: hands every live wait of promise `it` its settlement once
  // one is stored (all of them: a promise is read, never consumed).
  void look_promise(std::map<key, key_state>::iterator it,
                    eventlog::event_log& lg, std::vector<delivery>& out) {
    auto& [k, s] = *it;
    std::erase_if(s.waits, [](auto& w) { return w->dropped->load(); });
    if (s.waits.empty()) {
      erase_key(it);
      return;
    }
    auto stream = rec::signal_stream(k.workflow);
    auto info = changed_since_scan(k, s, lg);
    s.idle = true; // (the key goes once it is settled)
    if (!info)
      return;
    eventlog::seq_t last = 0;
    auto found = rec::find_settlement(lg, stream, k.name, last);
    if (!found) {
      report(k, found.error());
      return;
    }
    if (!*found) {
      s.scanned_created = info->created;
      s.scanned_last = last;
      return;
    }
    auto& p = **found;
    auto pid = rec::promise_id(k.workflow, k.name);
    for (auto& w : s.waits) {
      outcome o;
      if (p.ok) {
        std::vector<input> in(1);
        in[0].bytes = p.value.data;
        o = w->def->invoke(in);
        if (o.what == outcome::kind::error)
          o.error_text = fmt::format(
            "the value of promise '{}' does not fit the wait '{}' ({}): {}",
            pid, w->step, w->def->name, o.error_text);
      } else {
        o = outcome::failure("perdure::promise_rejected",
                             fmt::format("promise '{}' was rejected: {}",
                                         pid, p.error));
      }
      out.push_back({std::move(w), std::move(o), {}});
    }
    erase_key(it);
  }

  void report(const key& k, const status& st) {
    eventlog::emit(log, eventlog::log_level::warning,
                   fmt::format("{} '{}' of workflow '{}': cannot read "
                               "its signals: {}",
                               k.promise ? "promise" : "signal", k.name,
                               k.workflow, st.to_string()));
  }

  std::weak_ptr<eventlog::event_log> log_;
  std::chrono::milliseconds poll_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<key, key_state> keys_;
  std::set<std::string> dirty_;
  bool all_ = false;
  std::size_t ready_n_ = 0; ///< keys counted by recount
  std::optional<std::uint64_t> polled_; ///< foreign commits at the last poll
  bool stopped_ = false;
  std::thread thread_;
  perdure::metrics::gauge* ready_ = nullptr; ///< under mu_
};

} // namespace

std::shared_ptr<signal_source> make_signal_source(
  std::weak_ptr<eventlog::event_log> log, std::chrono::milliseconds poll) {
  return std::make_shared<log_signal_source>(std::move(log), poll);
}

} // namespace perdure::detail
