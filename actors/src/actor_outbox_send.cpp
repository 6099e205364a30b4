// SPDX-License-Identifier: Apache-2.0
// One pass over one sender's outbox (actor_outbox.hpp): its messages in
// lanes, one per receiver, each lane one message at a time in seq order,
// the lanes side by side; the delivered prefix dropped as it grows.

#include "actor_outbox.hpp"
#include "actor_pool.hpp"
#include "actor_runner.hpp"
#include "perdure/eventlog/log_sink.hpp"

#include <algorithm>
#include <deque>
#include <fmt/format.h>
#include <optional>

namespace perdure::detail {

using eventlog::record_kind;
using eventlog::seq_t;
using eventlog::to_u16;

namespace {

/// Messages of one sender whose calls run at once, at most.
constexpr std::size_t max_in_flight = 32;
/// Delivered messages are dropped from the outbox once this many wait.
constexpr seq_t trim_every = 64;

// Errors after which a message can never be delivered: it is dead.
bool permanent(const status& st) {
  return st == errc::not_found || st == errc::type_mismatch ||
         st == errc::invalid_argument;
}

// A receiver's answer meaning the message took effect (a method that threw
// is applied: its call is logged).
bool took_effect(const status& st) {
  return st || st == errc::failed;
}

} // namespace

class outbox::sending {
 public:
  sending(outbox& o, const std::string& sender, std::shared_ptr<board> b)
      : o_(o)
      , sender_(sender)
      , stream_(actor_records::outbox_stream(sender))
      , board_(std::move(b)) {}

  /// Calls still running are no longer counted as sending (they end by
  /// themselves; a later pass sends them again under the same key). Once
  /// the engine stops nothing of it is touched: it may be gone.
  ~sending() {
    if (!o_.stopping())
      o_.in_flight_gauge_->add(-static_cast<double>(in_flight_));
  }

  sending(const sending&) = delete;
  sending& operator=(const sending&) = delete;

  pass run() {
    auto out = pass_over();
    if (out != pass::closed)
      o_.note_held(sender_, held_);
    return out;
  }

 private:
  pass pass_over() {
    auto info = o_.svc_.log->info(stream_);
    if (!info)
      return info.error() == errc::not_found ? pass::done : pass::retry;
    if (info->first_seq == 0) {
      std::lock_guard guard{o_.mu_};
      o_.ended_.erase(sender_);
      return pass::done;
    }
    if (!load(info->first_seq))
      return pass::retry;
    for (;;) {
      if (o_.stopping())
        return pass::closed;
      start_ready();
      if (auto st = trim(trim_mode::due); !st)
        return pass::retry;
      if (in_flight_ == 0)
        break;
      if (auto p = wait())
        return *p;
    }
    auto out = pass::done;
    for (auto& [target, l] : lanes_) {
      if (l.held == hold::retry)
        out = pass::retry;
      else if (l.held == hold::parked && out == pass::done)
        out = pass::parked;
    }
    if (auto st = trim(started_ ? trim_mode::end : trim_mode::now); !st)
      return pass::retry;
    return out;
  }

  enum class state : std::uint8_t { queued, sent, ended };
  enum class hold : std::uint8_t { none, parked, retry };
  enum class trim_mode : std::uint8_t {
    due, ///< only with a dead message or trim_every delivered
    end, ///< as due, else trim_later
    now, ///< whatever was delivered
  };
  struct message {
    actor_records::tell t; ///< empty for one known delivered
    state st = state::queued;
    status why; ///< ended: ok when delivered, the error when dead
  };
  struct lane {
    std::deque<seq_t> queue; ///< its messages not ended, in seq order
    bool sent = false;       ///< the head's call runs
    bool ready = false;      ///< in ready_
    hold held = hold::none;
    std::chrono::milliseconds backoff{0};
    std::chrono::steady_clock::time_point retry_at;
  };

  // Adds the outbox's messages from `from` on; those that ended before
  // (ended_) are not sent again. Only ended_'s entries from `from` on are
  // copied: a load after a kick reads new messages, which none is.
  bool load(seq_t from) {
    std::map<seq_t, status> known;
    {
      std::lock_guard guard{o_.mu_};
      if (auto it = o_.ended_.find(sender_); it != o_.ended_.end())
        known.insert(it->second.lower_bound(from), it->second.end());
    }
    auto st =
        o_.svc_.log->scan(stream_, from, [&](const eventlog::record_view& r) {
          scanned_ = r.seq;
          auto& m = msgs_[r.seq];
          if (auto k = known.find(r.seq); k != known.end()) {
            m.st = state::ended;
            m.why = k->second;
            if (!took_effect(m.why))
              if (auto t = codec::decode<actor_records::tell>(r.payload))
                m.t = std::move(*t);
            return true;
          }
          auto t = codec::decode<actor_records::tell>(r.payload);
          if (!t) {
            m.t.args.data = std::string{r.payload};
            m.st = state::ended;
            m.why = {errc::corruption, "the outbox record does not decode: " +
                                           t.error().to_string()};
            return true;
          }
          m.t = std::move(*t);
          auto& l = lanes_[m.t.target];
          l.queue.push_back(r.seq);
          make_ready(l);
          return true;
        });
    return static_cast<bool>(st);
  }

  void make_ready(lane& l) {
    if (l.ready || l.sent || l.held != hold::none || l.queue.empty())
      return;
    l.ready = true;
    ready_.push_back(&l);
  }

  // Starts the head of each ready lane, up to max_in_flight calls.
  void start_ready() {
    while (!ready_.empty() && in_flight_ < max_in_flight) {
      auto& l = *ready_.front();
      ready_.pop_front();
      l.ready = false;
      if (!l.sent && l.held == hold::none && !l.queue.empty())
        start(l);
    }
  }

  void start(lane& l) {
    auto seq = l.queue.front();
    auto& m = msgs_.at(seq);
    const actor_class* cls = nullptr;
    {
      std::lock_guard guard{o_.mu_};
      if (auto c = o_.classes_.find(m.t.cls); c != o_.classes_.end())
        cls = c->second;
      else if (auto& w = o_.parked_[m.t.cls];
               std::find(w.begin(), w.end(), sender_) == w.end())
        w.push_back(sender_);
    }
    if (!cls) {
      l.held = hold::parked; // learn() kicks the sender
      ++held_;
      return;
    }
    started_ = true;
    m.st = state::sent;
    l.sent = true;
    ++in_flight_;
    o_.in_flight_gauge_->add(1);
    auto call = o_.start_one(seq, sender_, m.t, *cls);
    if (!call) {
      end(seq, call.error());
      return;
    }
    (*call)->on_done([b = board_, seq](const status& st) {
      {
        std::lock_guard guard{b->mu};
        b->ended.emplace_back(seq, st);
      }
      b->cv.notify_one();
    });
  }

  // The call of message `seq` ended with `st`.
  void end(seq_t seq, status st) {
    auto it = msgs_.find(seq);
    if (it == msgs_.end() || it->second.st != state::sent)
      return;
    auto& m = it->second;
    auto& l = lanes_.at(m.t.target);
    --in_flight_;
    o_.in_flight_gauge_->add(-1);
    l.sent = false;
    if (!took_effect(st) && !permanent(st)) {
      // Not delivered now (the receiver's partition moves, busy, closed):
      // its lane waits, the others go on.
      m.st = state::queued;
      l.held = hold::retry;
      ++held_;
      l.backoff = l.backoff.count() == 0 ? first_backoff
                                         : std::min(l.backoff * 2, max_backoff);
      l.retry_at = std::chrono::steady_clock::now() + l.backoff;
      return;
    }
    if (took_effect(st))
      o_.delivered_->inc();
    m.st = state::ended;
    m.why = took_effect(st) ? status{} : std::move(st);
    l.queue.pop_front();
    l.backoff = {};
    {
      std::lock_guard guard{o_.mu_};
      o_.ended_[sender_][seq] = m.why;
    }
    make_ready(l);
  }

  // Waits for a call to end, a kick or the next lane's retry, and handles
  // it. Returns how the pass ends, or nothing to go on.
  std::optional<pass> wait() {
    std::optional<std::chrono::steady_clock::time_point> until;
    if (held_ > 0)
      for (auto& [target, l] : lanes_)
        if (l.held == hold::retry && (!until || l.retry_at < *until))
          until = l.retry_at;
    std::vector<std::pair<seq_t, status>> ended;
    bool kicked = false;
    {
      blocking_scope blocking; // a pool worker waits for receivers
      if (!blocking)
        return pass::retry; // the calls still running end by themselves
      std::unique_lock guard{board_->mu};
      auto woken = [&] {
        return board_->stop || board_->kicked || !board_->ended.empty();
      };
      if (until)
        board_->cv.wait_until(guard, *until, woken);
      else
        board_->cv.wait(guard, woken);
      if (board_->stop)
        return pass::closed;
      ended.swap(board_->ended);
      kicked = std::exchange(board_->kicked, false);
    }
    for (auto& [seq, st] : ended)
      end(seq, std::move(st));
    auto now = std::chrono::steady_clock::now();
    if ((until && *until <= now) || (kicked && held_ > 0))
      for (auto& [target, l] : lanes_) {
        // A kick also says a class may have been learned.
        if ((l.held == hold::retry && l.retry_at <= now) ||
            (l.held == hold::parked && kicked)) {
          l.held = hold::none;
          --held_;
          make_ready(l);
        }
      }
    // run() reads kicked to go round: this pass has read what it said.
    if (kicked && !load(scanned_ + 1))
      return pass::retry;
    return std::nullopt;
  }

  // Drops the messages that ended before the first that did not, with the
  // dead ones moved to the dead stream in the same batch.
  status trim(trim_mode mode) {
    eventlog::write_batch batch;
    seq_t upto = 0;
    std::uint64_t dead = 0;
    for (auto& [seq, m] : msgs_) {
      if (m.st != state::ended)
        break;
      upto = seq;
      if (!m.why)
        bury(batch, seq, m), ++dead;
    }
    if (upto == 0)
      return {};
    auto count = upto - msgs_.begin()->first + 1;
    if (mode != trim_mode::now && dead == 0 && count < trim_every) {
      if (mode == trim_mode::end)
        o_.trim_later(sender_);
      return {};
    }
    batch.drop_before(stream_, upto + 1);
    blocking_scope blocking; // a pool worker waits for the log
    if (auto c = o_.svc_.log->commit(std::move(batch)); !c)
      return c.error(); // kept: dropped by a later pass
    msgs_.erase(msgs_.begin(), msgs_.upper_bound(upto));
    {
      std::lock_guard guard{o_.mu_};
      auto& known = o_.ended_[sender_];
      known.erase(known.begin(), known.upper_bound(upto));
      if (known.empty())
        o_.ended_.erase(sender_);
    }
    o_.dead_->inc(dead);
    return {};
  }

  void bury(eventlog::write_batch& batch, seq_t seq, message& m) {
    auto t = m.t;
    t.error = m.why.to_string();
    eventlog::emit(o_.svc_.eng->options().log, eventlog::log_level::warning,
                   fmt::format("actor '{}': message {} told to actor '{}' "
                               "({}.{}) cannot be delivered, moved to '{}': "
                               "{}",
                               sender_, seq, t.target, t.cls, t.method,
                               actor_records::dead_tell_stream(sender_),
                               t.error));
    batch.create(actor_records::dead_tell_stream(sender_),
                 eventlog::stream_kind::dead_letter);
    batch.append(actor_records::dead_tell_stream(sender_),
                 to_u16(record_kind::actor_tell), codec::encode(t));
  }

  outbox& o_;
  const std::string& sender_;
  std::string stream_;
  std::shared_ptr<board> board_;
  std::map<seq_t, message> msgs_; ///< in the outbox, not dropped yet
  std::unordered_map<std::string, lane> lanes_; ///< by receiver
  std::deque<lane*> ready_;                     ///< lanes whose head may start
  seq_t scanned_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t held_ = 0; ///< lanes held (parked or retry)
  bool started_ = false; ///< a call was started
};

outbox::pass outbox::deliver(const std::string& sender,
                             std::shared_ptr<board> b) {
  return sending{*this, sender, std::move(b)}.run();
}

} // namespace perdure::detail
