// SPDX-License-Identifier: Apache-2.0
// An event-sourced bank account: its methods decide and emit events
// (deposited, withdrawn, overdraft_refused); the log keeps the events, not
// the balance, and the account is their fold after a restart. A
// projection keeps a per-customer balance table (exactly-once), another
// an audit log (at-least-once).
#include <perdure/perdure.hpp>

#include "perdure/actors/projection.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace perdure;

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

struct account
  : event_sourced<account, deposited, withdrawn, overdraft_refused> {
  long balance = 0;
  std::vector<std::string> audit; // what happened, in domain terms

  // The state changes here only: the fold of the events.
  void apply(const deposited& e) {
    balance += e.amount;
    audit.push_back("deposited " + std::to_string(e.amount));
  }
  void apply(const withdrawn& e) {
    balance -= e.amount;
    audit.push_back("withdrew " + std::to_string(e.amount));
  }
  void apply(const overdraft_refused& e) {
    audit.push_back("refused " + std::to_string(e.amount) + " (balance "
                    + std::to_string(e.balance) + ")");
  }

  // Mutating methods decide which events happen.
  long deposit(long amount) {
    if (amount <= 0)
      throw std::invalid_argument("a deposit must be positive");
    emit(deposited{amount});
    return balance;
  }
  bool withdraw(long amount) {
    if (amount > balance) {
      emit(overdraft_refused{amount, balance}); // refused, and on record
      return false;
    }
    emit(withdrawn{amount});
    return true;
  }
  // Readonly: the state after the last durable event.
  long funds() const {
    return balance;
  }
  std::vector<std::string> history() const {
    return audit;
  }
};
PERDURE_ACTOR(account, (balance, audit),
              (deposit, withdraw, funds, history))

// Read models over every account's events: a balance per customer,
// written with the projection's offset (exactly-once), and an audit log
// (at-least-once: a line may repeat after a crash, none is missed).
int project_accounts(engine& eng, const std::string& id) {
  auto balances = project<account>(
    eng, "balances", [](const projected_event& e, projection_rows& rows) {
      long b = rows.get_as<long>(e.actor).value_or(0);
      if (auto d = e.as<deposited>())
        b += d->amount;
      else if (auto w = e.as<withdrawn>())
        b -= w->amount;
      rows.put_as(e.actor, b);
    });
  std::mutex mu;
  std::vector<std::string> audit;
  auto log = project<account>(eng, "audit", [&](const projected_event& e) {
    if (e.actor != id)
      return;
    std::lock_guard g{mu};
    audit.push_back(std::string{e.type} + " #" + std::to_string(e.seq));
  });
  // Both catch up from the first event of every account (earlier runs'
  // too), then follow new ones.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  long row = -1;
  std::size_t lines = 0;
  while (std::chrono::steady_clock::now() < until && balances.error()
         && log.error()) {
    auto t = projection_table(eng, "balances");
    if (t && t->count(id))
      row = codec::decode<long>(t->at(id)).value_or(-1);
    {
      std::lock_guard g{mu};
      lines = audit.size();
    }
    if (row == 120 && lines == 4 && balances.lag() == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  log.stop(); // its handler uses this function's locals
  balances.stop();
  if (row != 120 || lines != 4) {
    std::fprintf(stderr, "bank_account: projected balance %ld and %zu "
                         "audit lines, expected 120 and 4\n",
                 row, lines);
    return 1;
  }
  std::printf("projection 'balances': %s -> %ld; 'audit': %zu events\n",
              id.c_str(), row, lines);
  return 0;
}

int main() {
  // The pid keeps the id fresh, so the sample can run again on one storage.
  const auto id = "alice-" + std::to_string(getpid());
  bool refused = false, again = false;
  {
    engine eng;
    auto a = eng.actor<account>(id);
    a.call(&account::deposit, 100L);
    a.call(&account::withdraw, 30L);
    refused = !a.call(&account::withdraw, 500L);
    // A repeated idempotency key answers from the log: paid once.
    a.with({.key = "salary-2026-12"}).call(&account::deposit, 50L);
    again = a.with({.key = "salary-2026-12"}).call(&account::deposit, 50L)
            == 120;
  }
  // A new engine on the same storage: the account is the fold of its
  // events (its latest snapshot, if any, plus the events after it).
  engine eng;
  auto a = eng.get_actor<account>(id);
  long balance = a.call(&account::funds);
  auto history = a.call(&account::history);
  const std::vector<std::string> expected{
    "deposited 100", "withdrew 30", "refused 500 (balance 70)",
    "deposited 50"};
  if (balance != 120 || !refused || !again || history != expected) {
    std::fprintf(stderr, "bank_account: expected balance 120 and 4 events, "
                         "got %ld and %zu events\n",
                 balance, history.size());
    return 1;
  }
  for (auto& h : history)
    std::printf("  %s\n", h.c_str());
  std::printf("alice: balance %ld after %zu events\n", balance,
              history.size());
  return project_accounts(eng, id);
}
