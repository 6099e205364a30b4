// SPDX-License-Identifier: Apache-2.0
#pragma once

// The engine's event source of wait_for_signal nodes (see
// include/perdure/runtime/signal.hpp and the "Signals" section of the
// runtime README): one thread per engine, started on first use, hands each
// armed wait the next unconsumed signal of its name from stream
// `signals/ID`, with the offset that consumes it.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/runtime/graph.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace perdure::detail {

/// A signal handed by engine::signal straight to an armed wait: what the
/// wait's batch adds (the signal_sent record, marked `direct`, appended to
/// `stream` without expecting its last seq: it is consumed as stored, so
/// another writer's signal in between changes nothing), and who hears how
/// that batch ended. Dropped without `finish`: nobody took it (status
/// `canceled`), and the sender stores the signal as usual.
struct direct_event {
  std::string stream;
  std::string payload; ///< the encoded signal_sent, `direct` set
  /// records::signal_sender_key of a keyed sender, set to 1 with it
  /// (empty: none).
  std::string mark;
  std::function<void(status)> done;

  direct_event() = default;
  direct_event(const direct_event&) = delete;
  direct_event& operator=(const direct_event&) = delete;
  ~direct_event() {
    finish({errc::canceled, "no wait took the signal"});
  }
  /// Adds the signal, consumed, to `b`.
  void add_to(eventlog::write_batch& b) const;
  /// Calls `done` once with `st`.
  void finish(status st) {
    if (auto f = std::exchange(done, nullptr))
      f(std::move(st));
  }
};

class signal_source : public event_source {
 public:
  /// A signal for `workflow` was committed: look at its waits now.
  virtual void notify(const std::string& workflow) = 0;
  /// Hands signal `name` (encoded `value`, `payload` its encoded
  /// signal_sent) to the armed head wait of `workflow` when nothing of that
  /// name is stored unconsumed (no signal sent earlier is passed) and
  /// nothing was handed out: false (and
  /// `done` is not called) when that does not apply. Else `done` hears the
  /// result of the wait's batch that logs the signal and its consumption
  /// (and `mark`, a keyed sender's offset key, set to 1; empty: none).
  virtual bool direct(const std::string& workflow, const std::string& name,
                      const std::string& value, std::string payload,
                      std::string mark,
                      std::function<void(status)> done) = 0;
};

/// Where the log's commit hook finds the engine's signal source. A signal
/// wakes its waits as soon as its commit is visible, before it is durable:
/// the wait's own batch commits after it, and a log makes its batches
/// durable in commit order, so the wait's step never starts on a signal
/// that could still be lost (and signal() still returns once durable).
struct signal_hub {
  std::mutex mu;
  std::weak_ptr<signal_source> source; ///< guarded by mu
  /// Wakes the source for each signal `b` appends. On the log's writer
  /// thread (eventlog::options::on_commit): quick, writes nothing.
  void committed(const eventlog::write_batch& b);
  /// The lock every signal sent to `workflow` from this engine holds
  /// while it is stored, so that their commits follow their calls.
  std::shared_ptr<std::mutex> sender_lock(const std::string& workflow);

 private:
  std::map<std::string, std::weak_ptr<std::mutex>> senders_; ///< under mu
};

/// The source reading `log`. Signals written by another process (`perdure
/// signal`) are noticed within `poll` (the engine's
/// external_cancel_check).
std::shared_ptr<signal_source> make_signal_source(
  std::weak_ptr<eventlog::event_log> log, std::chrono::milliseconds poll);

/// The offset key of the signals named `name` of the signal stream created
/// at `created` (a removed workflow's reused id starts afresh).
std::string signal_offset_key(eventlog::time_ns created,
                              std::string_view workflow,
                              std::string_view name);

} // namespace perdure::detail
