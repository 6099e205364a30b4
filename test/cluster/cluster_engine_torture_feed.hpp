// SPDX-License-Identifier: Apache-2.0
#pragma once

// perdure-cluster-engine-torture's Kafka records: the driver produces
// records to the input topic while nodes die, and every node runs a
// cluster feed (kafka_feed.hpp) of that topic into tally actors: record
// (key "b-I", value N) calls add(N) on actor b-I, and actor b-I's N-th
// record has value N. So at the end every actor's list must be exactly
// 1, 2, ..., its record count: none lost, none applied twice, in order.

#include <cstddef>
#include <memory>
#include <perdure/listeners/kafka.hpp>
#include <string>
#include <utility>
#include <vector>

namespace perdure::test {

class feed_book {
 public:
  /// Records of `actors` actors to `topic` on `brokers`.
  feed_book(int actors, const std::string& brokers, std::string topic);

  /// Produces the next `n` records (over the actors in turn) and waits
  /// until the brokers acknowledged them; throws when they did not.
  void produce(int n);
  std::size_t produced() const noexcept {
    return produced_;
  }

  /// The command that reads every feed actor ("aget b-0 ...").
  std::string get_command() const;
  /// Whether the answers to it ("aval ID R1,R2,...") show every record
  /// produced so far applied (as many rounds as records per actor).
  bool caught_up(const std::vector<std::string>& lines) const;
  /// Checks the answers: actor b-I holds 1..count(I) once each, in order.
  void verify(const std::vector<std::string>& lines);

  std::vector<std::string> violations;

 private:
  std::unique_ptr<kafka_producer> producer_;
  std::string topic_;
  std::vector<int> counts_;
  std::size_t produced_ = 0;
  std::size_t turn_ = 0;
};

} // namespace perdure::test
