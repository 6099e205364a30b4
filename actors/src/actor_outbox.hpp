// SPDX-License-Identifier: Apache-2.0
#pragma once

// The delivery of told messages (actor_ref::tell inside a mutating
// method). A call's messages are logged in its batch, in its actor's
// outbox stream "outbox/<sender>" (records/actor.hpp, `tell`); once that
// batch is durable the outbox sends them, each as a mutating call keyed
// tell_key(seq, sender) that the receiver applies at most once (it keeps
// the highest seq it applied from the sender in its own batch).
//
// One sender's messages go out in lanes, one per receiver: a receiver gets
// the sender's messages one at a time in seq order, while the heads of
// other receivers' lanes are sent beside it (up to 32 at once per sender),
// so a receiver that is slow, or whose partition moves, holds up only its
// own lane. Delivered messages are dropped from the outbox afterwards, up
// to the first one not delivered yet, in batches (64 at a time, or once
// the outbox is idle for 100 ms); a crash in between sends them again and
// their receivers skip them. A message that can never be delivered (no
// such actor, another class, an unknown method) moves to
// "outbox-dead/<sender>" in the batch that drops it, so once.
//
// The receiver's class must be known to this engine to resolve it: each
// class used here (resolve_actor, use_actors) is learned; a message for a
// class not learned yet waits (with its lane) until it is. The first class
// learned starts a scan of every outbox, so what a crash left undelivered
// goes out.

#include "actor_internal.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace perdure::detail {

class actor_service;

class outbox {
 public:
  /// The outbox of `svc` (its member `out`), which `self` points to: the
  /// tasks it posts hold the service while they run.
  outbox(actor_service& svc, std::weak_ptr<actor_service> self);

  /// Remembers `cls` (by name) as a class messages can be delivered to;
  /// the first call scans every outbox.
  void learn(const actor_class& cls);
  /// Sends what the outbox of actor `sender` holds (again, if a sending of
  /// it runs now).
  void kick(const std::string& sender);
  /// No sending starts any more; those that run stop at their next step.
  void stop();

  // For the pool's tasks (they hold the service).
  void run(const std::string& sender);
  void scan_all();

 private:
  enum class pass { done, parked, retry, closed };

  /// A sender whose pass could not deliver all, and a lane within a pass,
  /// try again after this, doubling up to max_backoff.
  static constexpr std::chrono::milliseconds first_backoff{20};
  static constexpr std::chrono::milliseconds max_backoff{2000};

  /// Where one pass over a sender's outbox waits: for its messages' ends
  /// (the receivers' answers), a kick, or the stop. A pass has its own, so
  /// an answer to an earlier pass never reaches a later one.
  struct board {
    std::mutex mu;
    std::condition_variable cv;
    /// Messages whose call ended, with the receiver's answer; mu.
    std::vector<std::pair<eventlog::seq_t, status>> ended;
    bool kicked = false; ///< told more, or a class was learned; mu
    bool stop = false;   ///< mu
  };

  /// One pass over one sender's outbox (actor_outbox_send.cpp).
  class sending;
  /// Sends what the outbox of `sender` holds, through a pass waiting on
  /// `b`, until every lane is delivered or held.
  pass deliver(const std::string& sender, std::shared_ptr<board> b);

  bool stopping();
  /// Kicks `sender` again after a while, to drop what it applied.
  void trim_later(const std::string& sender);
  /// Starts the call of message `seq` of `sender` at its receiver.
  result<std::shared_ptr<call_state>>
  start_one(std::uint64_t seq, const std::string& sender,
            const actor_records::tell& t, const actor_class& cls);

  actor_service& svc_;
  std::weak_ptr<actor_service> self_;
  /// Records that `held` lanes of `sender` wait (for a retry or a
  /// class) after its last pass, in held_gauge_.
  void note_held(const std::string& sender, std::size_t held);

  metrics::counter* delivered_ = nullptr;
  metrics::counter* dead_ = nullptr;
  metrics::gauge* in_flight_gauge_ = nullptr; ///< calls at receivers running
  metrics::gauge* held_gauge_ = nullptr;      ///< lanes waiting, all senders

  std::mutex mu_;
  std::unordered_map<std::string, const actor_class*> classes_; ///< mu_
  /// Class name -> senders whose next message waits for it; mu_.
  std::unordered_map<std::string, std::vector<std::string>> parked_;
  /// Senders being sent, with their pass's board; mu_ (then board::mu).
  std::unordered_map<std::string, std::shared_ptr<board>> running_;
  /// Senders whose next try waits for a retry; mu_.
  std::unordered_map<std::string, std::chrono::milliseconds> backoff_;
  /// Sender -> how its messages still in its outbox ended (seq -> ok:
  /// applied; an error: dead, why), until a trim drops them: not sent
  /// again; mu_.
  std::unordered_map<std::string, std::map<eventlog::seq_t, status>> ended_;
  /// Sender -> its lanes held after its last pass; mu_.
  std::unordered_map<std::string, std::size_t> held_lanes_;
  /// Senders with a trim_later pending; mu_.
  std::unordered_set<std::string> trim_due_;
  bool scanned_ = false; ///< mu_
  bool stopped_ = false; ///< mu_
};

} // namespace perdure::detail
