// SPDX-License-Identifier: Apache-2.0
#pragma once

// perdure-cluster-engine-torture's virtual actors: rounds of calls through
// random nodes while nodes die. Actor a-I is a `tally` (in
// perdure-cluster-engine-node) whose state is the list of rounds applied
// to it; round R calls add(R) on every actor with key "a-I.rR", through
// one random node, just before a fault, and is tried again by the same
// keys through other nodes until every actor acknowledged it. So each
// acknowledgement of round R must say R (the rounds before it applied once
// each, this one once), and at the end every actor's list must be exactly
// 1, 2, ..., R: none lost, none twice, in order. The call is
// tally::relay: before adding R, a-I's method calls add(R) on tally m-I
// (mostly in another partition, on another node), with a key derived from
// its own; a method that runs again (its node died before its result was
// logged) repeats that call. So m-I must hold exactly 1..R too. And it
// tells add(R) to tally t-I (actor_ref::tell: logged with its call in
// a-I's outbox, sent after it, applied once by t-I's owner), so t-I must
// hold exactly 1..R as well once the outboxes are sent.

#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace perdure::test {

/// The number of id `prefix` + N ("a-17" with prefix "a-": 17); -1 for
/// anything else.
int numbered_id(const std::string& id, const std::string& prefix);

/// Checks a node's answers to "aget ID..." ("aval ID R1,R2,..." or "aerr
/// ID ERROR"): actor `prefix` + I holds exactly 1..expected[I], in order,
/// for every I; what is not so goes to `violations`, naming actors as
/// `what`.
void verify_rounds(const std::vector<std::string>& lines,
                   const std::string& prefix, const std::vector<int>& expected,
                   const std::string& what,
                   std::vector<std::string>& violations);

class actor_round_book {
 public:
  explicit actor_round_book(int actors);

  /// Starts the next round: the node command that calls it on every
  /// actor ("acall R a-0 a-1 ...").
  std::string next_round();
  /// The command that calls the current round again on the actors that
  /// have not acknowledged it; empty when none is left.
  std::string retry_command();
  /// Takes a node's answers to an acall ("aok ID N", "aerr ID ERROR",
  /// "acalled").
  void take(const std::vector<std::string>& lines);
  bool round_done() const {
    return pending_.empty();
  }
  int round() const {
    return round_;
  }

  /// The command that reads every actor, its mirror and the actor it
  /// tells ("aget a-0 m-0 t-0 ...").
  std::string get_command() const;
  /// Checks the answers to it ("aval ID R1,R2,..." / "aerr ID ERROR"):
  /// every actor, mirror and told actor holds 1..round() once each, in
  /// order.
  void verify(const std::vector<std::string>& lines);
  /// The command that reads the told actors ("aget t-0 t-1 ...") ...
  std::string told_get() const;
  /// ... and whether its answers show every round told applied.
  bool told_done(const std::vector<std::string>& lines) const;

  std::size_t calls = 0;   ///< calls sent (each actor once per try)
  std::size_t retries = 0; ///< calls tried again (their first answer lost)
  std::size_t errors = 0;  ///< answers that were errors (tried again)
  std::vector<std::string> first_errors; ///< the first 5 of them
  std::vector<std::string> violations;

 private:
  std::string command(const std::set<int>& which) const;

  int actors_;
  int round_ = 0;
  std::set<int> pending_;
};

} // namespace perdure::test
