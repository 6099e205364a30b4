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

std::string one_to(int n) {
  std::string out;
  for (int r = 1; r <= n; ++r)
    out += (r > 1 ? "," : "") + std::to_string(r);
  return out.empty() ? "-" : out; // as the node writes an empty list
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
  std::vector<bool> seen(counts_.size());
  for (auto& line : lines) {
    std::istringstream in{line};
    std::string word, id, rounds;
    in >> word >> id >> rounds;
    if (word != "aval" && word != "aerr")
      continue;
    auto i = feed_actor(id);
    if (i < 0 || i >= static_cast<int>(counts_.size())) {
      violations.push_back("malformed feed actor answer '" + line + "'");
      continue;
    }
    seen[static_cast<std::size_t>(i)] = true;
    auto expected = one_to(counts_[static_cast<std::size_t>(i)]);
    if (word == "aerr")
      violations.push_back("feed actor " + id +
                           " could not be read: " + rounds);
    else if (rounds != expected)
      violations.push_back("feed actor " + id + " holds records " + rounds +
                           ", expected " + expected);
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i])
      violations.push_back("feed actor b-" + std::to_string(i) +
                           " not answered at the end");
}

} // namespace perdure::test
