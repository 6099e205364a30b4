// SPDX-License-Identifier: Apache-2.0
// Sending the outboxes of told messages (actor_outbox.hpp): when a sender
// is sent, one task per sender at a time on the actors' pool, and its
// trims; a pass over its messages is in actor_outbox_send.cpp.

#include "actor_outbox.hpp"

#include "actor_pool.hpp"
#include "actor_runner.hpp"
#include "perdure/eventlog/log_sink.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace perdure::detail {

using eventlog::record_kind;
using eventlog::to_u16;

namespace {

constexpr std::string_view outbox_prefix = "outbox/";
/// Once the outbox had nothing to send for this long, what it delivered
/// is dropped.
constexpr auto trim_wait = std::chrono::milliseconds{100};

} // namespace

outbox::outbox(actor_service& svc, std::weak_ptr<actor_service> self)
    : svc_(svc)
    , self_(std::move(self)) {
  auto& reg = svc.eng->metrics();
  delivered_ = &reg.get_counter(
      "perdure_actor_tells_total",
      "Messages told by actor methods (actor_ref::tell) by outcome.",
      {{"outcome", "delivered"}});
  dead_ = &reg.get_counter(
      "perdure_actor_tells_total",
      "Messages told by actor methods (actor_ref::tell) by outcome.",
      {{"outcome", "dead"}});
  in_flight_gauge_ = &reg.get_gauge(
      "perdure_actor_tells_sending",
      "Told messages whose call at their receiver runs now (at most one per "
      "receiver and sender).",
      {});
  held_gauge_ = &reg.get_gauge(
      "perdure_actor_tell_lanes_held",
      "Receivers whose told messages wait: to be tried again (the "
      "receiver's partition moves, busy...) or for the receiver's class to "
      "be known to this engine.",
      {});
}

void outbox::note_held(const std::string& sender, std::size_t held) {
  std::lock_guard guard{mu_};
  if (stopped_)
    return; // the engine (and its metrics) may be gone
  auto it = held_lanes_.find(sender);
  std::size_t was = it == held_lanes_.end() ? 0 : it->second;
  held_gauge_->add(static_cast<double>(held) - static_cast<double>(was));
  if (held == 0) {
    if (it != held_lanes_.end())
      held_lanes_.erase(it);
  } else {
    held_lanes_[sender] = held;
  }
}

void outbox::learn(const actor_class& cls) {
  std::vector<std::string> waiting;
  bool scan = false;
  {
    std::lock_guard guard{mu_};
    auto [it, fresh] = classes_.try_emplace(cls.name, &cls);
    if (!fresh && scanned_)
      return;
    scan = !scanned_;
    scanned_ = true;
    if (auto p = parked_.find(cls.name); p != parked_.end()) {
      waiting = std::move(p->second);
      parked_.erase(p);
    }
  }
  for (auto& s : waiting)
    kick(s);
  if (scan)
    svc_.pool->post([w = self_] { // shut down: dropped, nothing is sent
      if (auto s = w.lock())
        s->out->scan_all();
    });
}

void outbox::kick(const std::string& sender) {
  {
    std::lock_guard guard{mu_};
    if (stopped_)
      return;
    auto [it, fresh] = running_.try_emplace(sender);
    if (!fresh) {
      auto& b = *it->second;
      {
        std::lock_guard g{b.mu};
        b.kicked = true;
      }
      b.cv.notify_one();
      return;
    }
    it->second = std::make_shared<board>();
  }
  if (!svc_.pool->post([w = self_, sender] {
        if (auto s = w.lock())
          s->out->run(sender);
      })) {
    std::lock_guard guard{mu_};
    running_.erase(sender);
  }
}

void outbox::stop() {
  std::lock_guard guard{mu_};
  stopped_ = true;
  for (auto& [sender, b] : running_) {
    {
      std::lock_guard g{b->mu};
      b->stop = true;
    }
    b->cv.notify_all();
  }
}

bool outbox::stopping() {
  std::lock_guard guard{mu_};
  return stopped_;
}

void outbox::run(const std::string& sender) {
  std::shared_ptr<board> b;
  {
    std::lock_guard guard{mu_};
    b = running_.at(sender);
  }
  for (;;) {
    auto p = deliver(sender, b);
    std::lock_guard guard{mu_};
    bool again = false;
    {
      std::lock_guard g{b->mu};
      again = b->kicked;
    }
    if (p == pass::done || p == pass::parked) {
      backoff_.erase(sender);
      if (again && !stopped_) {
        // Told more, or a class was learned, meanwhile: a new pass, on a
        // board of its own.
        b = std::make_shared<board>();
        running_[sender] = b;
        continue;
      }
      running_.erase(sender);
      return;
    }
    running_.erase(sender);
    if (p == pass::closed || stopped_)
      return;
    // Not all delivered now (a receiver's partition moves, the log is
    // busy...): again later, backing off.
    auto& wait = backoff_[sender];
    wait = wait.count() == 0 ? first_backoff : std::min(wait * 2, max_backoff);
    svc_.pool->post_after(wait, [w = self_, sender] {
      if (auto s = w.lock())
        s->out->kick(sender);
    });
    return;
  }
}

void outbox::scan_all() {
  std::string after;
  for (;;) {
    auto page = svc_.log->list_prefix(outbox_prefix, after, 256);
    if (!page || page->empty())
      return;
    for (auto& info : *page)
      if (info.first_seq != 0)
        kick(info.id.substr(outbox_prefix.size()));
    after = page->back().id;
  }
}

void outbox::trim_later(const std::string& sender) {
  {
    std::lock_guard guard{mu_};
    if (!trim_due_.insert(sender).second)
      return;
  }
  svc_.pool->post_after(trim_wait, [w = self_, sender] {
    if (auto s = w.lock()) {
      {
        std::lock_guard guard{s->out->mu_};
        s->out->trim_due_.erase(sender);
      }
      s->out->kick(sender);
    }
  });
}

result<std::shared_ptr<call_state>>
outbox::start_one(std::uint64_t seq, const std::string& sender,
                  const actor_records::tell& t, const actor_class& cls) {
  auto* method = cls.find(std::string_view{t.method});
  if (!method || method->readonly)
    return status{
        errc::invalid_argument,
        fmt::format("class '{}' has no mutating method '{}'", t.cls, t.method)};
  auto cell = resolve_actor(*svc_.eng, t.target, cls, nullptr);
  if (!cell)
    return std::move(cell).error();
  auto done = std::make_shared<call_state>();
  mutation m;
  m.method = method;
  m.args = t.args.data;
  m.key = actor_records::tell_key(seq, sender);
  m.done = done;
  // Ends for sure: at a stop the receiver's runner answers `closed`, a
  // remote call ends by forward_deadline.
  submit_mutation(**cell, std::move(m));
  return done;
}

bool in_logged_method(const actor_cell& c) noexcept {
  auto& ctx = current_call();
  return ctx.tells != nullptr && ctx.service == c.svc.get();
}

void record_tell(actor_cell& c, const method_entry& m, std::string args) {
  c.svc->out->learn(*c.cls);
  current_call().tells->push_back(
      actor_records::tell{c.cls->name, c.id, m.name, {std::move(args)}, {}});
}

} // namespace perdure::detail
