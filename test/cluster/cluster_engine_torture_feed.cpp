// SPDX-License-Identifier: Apache-2.0
#include "cluster_engine_torture_feed.hpp"

#include "cluster_engine_torture_actors.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace perdure::test {

namespace {

int feed_actor(const std::string& id) {
  return numbered_id(id, "b-");
}

} // namespace

feed_book::feed_book(int actors, const std::string& brokers, std::string topic)
    : producer_(std::make_unique<kafka_producer>(brokers))
    , topic_(std::move(topic))
    , counts_(static_cast<std::size_t>(actors)) {}

void feed_book::produce(int n) {
  if (counts_.empty())
    return;
  for (int k = 0; k < n; ++k) {
    auto i = turn_++ % counts_.size();
    auto st = producer_->produce(topic_, "b-" + std::to_string(i),
                                 std::to_string(++counts_[i]));
    if (!st)
      throw std::runtime_error{"produce: " + st.to_string()};
    ++produced_;
  }
  if (auto st = producer_->flush(std::chrono::seconds{120}); !st)
    throw std::runtime_error{"produce: " + st.to_string()};
}

std::string feed_book::get_command() const {
  std::string out = "aget";
  for (std::size_t i = 0; i < counts_.size(); ++i)
    out += " b-" + std::to_string(i);
  return out;
}

bool feed_book::caught_up(const std::vector<std::string>& lines) const {
  std::size_t done = 0;
  for (auto& line : lines) {
    std::istringstream in{line};
    std::string word, id, rounds;
    in >> word >> id >> rounds;
    auto i = feed_actor(id);
    if (word != "aval" || i < 0 || i >= static_cast<int>(counts_.size()))
      continue;
    // Applied in order, so its length tells: commas + 1 (or "-": none).
    auto applied = rounds == "-" ? 0
                                 : 1 + static_cast<int>(std::count(
                                           rounds.begin(), rounds.end(), ','));
    if (applied >= counts_[static_cast<std::size_t>(i)])
      ++done;
  }
  return done == counts_.size();
}

void feed_book::verify(const std::vector<std::string>& lines) {
  verify_rounds(lines, "b-", counts_, "feed actor", violations);
}

} // namespace perdure::test
