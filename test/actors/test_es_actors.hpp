// SPDX-License-Identifier: Apache-2.0
#pragma once

// The event-sourced classes of the actors suites, and a fold of an actor's
// log written against the public event_log API (what a tool would do).

#include <doctest/doctest.h>

#include <perdure/perdure.hpp>

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/actor.hpp"

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace perdure::test {

struct deposited {
  long amount = 0;
};
PERDURE_EVENT(deposited, amount)
struct withdrawn {
  long amount = 0;
};
PERDURE_EVENT(withdrawn, amount)
struct overdraft_refused {
  long amount = 0;
  long balance = 0;
};
PERDURE_EVENT(overdraft_refused, amount, balance)

/// What a ledger's methods return: its whole state.
struct ledger_view {
  long balance = 0;
  std::vector<long> entries;
  int refused = 0;
  bool operator==(const ledger_view&) const = default;
};
PERDURE_FIELDS(ledger_view, balance, entries, refused)

/// Counts the ledger's mutating method runs (a replayed key runs nothing).
inline std::atomic<int> ledger_runs{0};

struct ledger
  : event_sourced<ledger, deposited, withdrawn, overdraft_refused> {
  long balance = 0;
  std::vector<long> entries;
  int refused = 0;

  void apply(const deposited& e) {
    balance += e.amount;
    entries.push_back(e.amount);
  }
  void apply(const withdrawn& e) {
    balance -= e.amount;
    entries.push_back(-e.amount);
  }
  void apply(const overdraft_refused&) {
    ++refused;
  }

  ledger_view deposit(long n) {
    ++ledger_runs;
    emit(deposited{n});
    return view();
  }
  ledger_view withdraw(long n) {
    ++ledger_runs;
    if (n > balance)
      emit(overdraft_refused{n, balance});
    else
      emit(withdrawn{n});
    return view();
  }
  /// Two events in one call; the second sees the first applied.
  ledger_view split(long a, long b) {
    ++ledger_runs;
    emit(deposited{a});
    emit(deposited{b + static_cast<long>(entries.size())});
    return view();
  }
  /// Emits, then throws: nothing of it is logged or applied.
  ledger_view fail_after(long n) {
    ++ledger_runs;
    emit(deposited{n});
    throw std::runtime_error("refused after emitting");
  }
  /// Emits nothing.
  ledger_view touch() {
    ++ledger_runs;
    return view();
  }
  ledger_view view() const {
    return {balance, entries, refused};
  }
};
PERDURE_ACTOR(ledger, (balance, entries, refused),
              (deposit, withdraw, split, fail_after, touch, view))

/// Calls `f(record, view-after)` for every record of actor `id`'s stream
/// from its first seq, folding its events with the class's own `apply`
/// (the state at the record's seq is `view-after`). Snapshots are checked
/// against the fold, not used.
inline void fold_log(const eventlog::event_log& log, const std::string& id,
                     const std::function<void(const eventlog::record_view&,
                                              const ledger_view&)>& f) {
  using eventlog::record_kind;
  auto info = log.info("actor/" + id);
  REQUIRE(info);
  ledger acc;
  auto st = log.scan("actor/" + id, info->first_seq,
                     [&](const eventlog::record_view& r) {
    switch (static_cast<record_kind>(r.kind)) {
      case record_kind::actor_created: {
        auto c = codec::decode<actor_records::created>(r.payload);
        REQUIRE(c);
        auto s = codec::decode<ledger>(c->state.data);
        REQUIRE(s);
        acc = *s;
        break;
      }
      case record_kind::actor_events: {
        auto c = codec::decode<actor_records::events_called>(r.payload);
        REQUIRE(c);
        for (auto& e : c->events)
          REQUIRE(ledger::perdure_fold(acc, e.type, e.signature,
                                          e.data.data));
        break;
      }
      case record_kind::actor_snapshot: {
        auto c = codec::decode<actor_records::snapshot>(r.payload);
        REQUIRE(c);
        auto s = codec::decode<ledger>(c->state.data);
        REQUIRE(s);
        CHECK(s->view() == acc.view());
        break;
      }
      default: break;
    }
    f(r, acc.view());
    return true;
  });
  REQUIRE(st);
}

} // namespace perdure::test
