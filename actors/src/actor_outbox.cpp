// SPDX-License-Identifier: Apache-2.0
// Sending the outboxes of told messages (actor_outbox.hpp): one task per
// sender at a time on the actors' pool, its messages in seq order.

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
constexpr auto first_backoff = std::chrono::milliseconds{20};
constexpr auto max_backoff = std::chrono::milliseconds{2000};
/// Applied messages are dropped from the outbox once this many wait ...
constexpr eventlog::seq_t trim_every = 64;
/// ... or once the outbox had nothing to send for this long.
constexpr auto trim_wait = std::chrono::milliseconds{100};

// Errors after which a message can never be delivered: it is dead.
bool permanent(const status& st) {
  return st == errc::not_found || st == errc::type_mismatch ||
         st == errc::invalid_argument;
}

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
    auto [it, fresh] = running_.try_emplace(sender, false);
    if (!fresh) {
      it->second = true;
      return;
    }
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
}

bool outbox::stopping() {
  std::lock_guard guard{mu_};
  return stopped_;
}

void outbox::run(const std::string& sender) {
  for (;;) {
    auto p = deliver(sender);
    std::lock_guard guard{mu_};
    auto it = running_.find(sender);
    if (p == pass::done || p == pass::parked) {
      backoff_.erase(sender);
      if (it->second && !stopped_) {
        it->second = false; // told more, or a class was learned, meanwhile
        continue;
      }
      running_.erase(it);
      return;
    }
    running_.erase(it);
    if (p == pass::closed || stopped_)
      return;
    // Not delivered now (the receiver's partition moves, the log is
    // busy...): again later, backing off.
    auto& b = backoff_[sender];
    b = b.count() == 0 ? first_backoff : std::min(b * 2, max_backoff);
    svc_.pool->post_after(b, [w = self_, sender] {
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

outbox::pass outbox::deliver(const std::string& sender) {
  auto stream = actor_records::outbox_stream(sender);
  auto info = svc_.log->info(stream);
  if (!info)
    return info.error() == errc::not_found ? pass::done : pass::retry;
  if (info->first_seq == 0)
    return pass::done;
  eventlog::seq_t sent_before = 0; // applied, maybe not dropped yet
  {
    std::lock_guard guard{mu_};
    if (auto i = sent_.find(sender); i != sent_.end())
      sent_before = i->second;
  }
  std::vector<std::pair<eventlog::seq_t, actor_records::tell>> msgs;
  eventlog::write_batch trim;
  eventlog::seq_t upto = 0;
  std::uint64_t dead = 0;
  auto bury = [&](eventlog::seq_t seq, actor_records::tell t, status why) {
    t.error = why.to_string();
    eventlog::emit(svc_.eng->options().log, eventlog::log_level::warning,
                   fmt::format("actor '{}': message {} told to actor '{}' "
                               "({}.{}) cannot be delivered, moved to '{}': "
                               "{}",
                               sender, seq, t.target, t.cls, t.method,
                               actor_records::dead_tell_stream(sender),
                               t.error));
    trim.create(actor_records::dead_tell_stream(sender),
                eventlog::stream_kind::dead_letter);
    trim.append(actor_records::dead_tell_stream(sender),
                to_u16(record_kind::actor_tell), codec::encode(t));
    upto = seq;
    ++dead;
  };
  auto from = std::max(info->first_seq, sent_before + 1);
  auto st = svc_.log->scan(
      stream, from, [&](const eventlog::record_view& r) {
        auto t = codec::decode<actor_records::tell>(r.payload);
        if (!t) {
          actor_records::tell bad;
          bad.args.data = std::string{r.payload};
          msgs.emplace_back(r.seq, std::move(bad));
          msgs.back().second.error = t.error().to_string();
        } else {
          msgs.emplace_back(r.seq, std::move(*t));
        }
        return true;
      });
  if (!st)
    return pass::retry;
  auto out = pass::done;
  for (auto& [seq, t] : msgs) {
    if (stopping()) {
      out = pass::closed;
      break;
    }
    if (!t.error.empty()) {
      bury(seq, std::move(t),
           {errc::corruption, "the outbox record does not decode: " + t.error});
      continue;
    }
    const actor_class* cls = nullptr;
    {
      std::lock_guard guard{mu_};
      if (auto c = classes_.find(t.cls); c != classes_.end())
        cls = c->second;
      else if (auto& w = parked_[t.cls];
               std::find(w.begin(), w.end(), sender) == w.end())
        w.push_back(sender);
    }
    if (!cls) {
      out = pass::parked;
      break;
    }
    auto sent = send_one(seq, sender, t, *cls);
    if (stopping())
      return pass::closed; // the engine may be gone: touch nothing of it
    if (sent || sent == errc::failed) {
      upto = seq; // applied (a method that threw is applied: logged)
      delivered_->inc();
      continue;
    }
    if (permanent(sent)) {
      bury(seq, std::move(t), std::move(sent));
      continue;
    }
    out = sent == errc::closed ? pass::closed : pass::retry;
    break;
  }
  auto applied = std::max(sent_before, upto);
  if (applied < info->first_seq)
    return out; // nothing to drop
  {
    std::lock_guard guard{mu_};
    sent_[sender] = applied;
  }
  // Dropped in a batch of its own, not after every message: when the
  // outbox is idle, when trim_every wait, or with a dead letter. A crash
  // before sends them again; their receivers skip them.
  if (dead == 0 && !msgs.empty()
      && applied - info->first_seq + 1 < trim_every) {
    trim_later(sender);
    return out;
  }
  trim.drop_before(stream, applied + 1);
  blocking_scope blocking; // a pool worker waits for the log
  auto c = svc_.log->commit(std::move(trim));
  if (!c)
    return out == pass::closed ? out : pass::retry; // sent again: skipped
  dead_->inc(dead);
  return out;
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

status outbox::send_one(std::uint64_t seq, const std::string& sender,
                        const actor_records::tell& t, const actor_class& cls) {
  auto* method = cls.find(std::string_view{t.method});
  if (!method || method->readonly)
    return {
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
  submit_mutation(**cell, std::move(m));
  // The worker gives its thread up meanwhile. Bounded: at a stop the
  // receiver's runner answers `closed`, a remote call ends by
  // forward_deadline.
  return done->wait_status();
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
