// SPDX-License-Identifier: Apache-2.0
// An event-sourced bank account: its methods decide and emit events
// (deposited, withdrawn, overdraft_refused); the log keeps the events, not
// the balance, and the account is their fold after a restart.
#include <perdure/perdure.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
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
}
