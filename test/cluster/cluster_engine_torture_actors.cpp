// SPDX-License-Identifier: Apache-2.0
#include "cluster_engine_torture_actors.hpp"

#include <algorithm>
#include <cstdio>

#include <sstream>

namespace perdure::test {

namespace {

int actor_index(const std::string& id) {
  return numbered_id(id, "a-");
}

} // namespace

int numbered_id(const std::string& id, const std::string& prefix) {
  if (id.rfind(prefix, 0) != 0)
    return -1;
  try {
    return std::stoi(id.substr(prefix.size()));
  } catch (...) {
    return -1;
  }
}

actor_round_book::actor_round_book(int actors) : actors_(actors) {
}

std::string actor_round_book::command(const std::set<int>& which) const {
  std::string out = "acall " + std::to_string(round_);
  for (auto i : which)
    out += " a-" + std::to_string(i);
  return out;
}

std::string actor_round_book::next_round() {
  ++round_;
  pending_.clear();
  for (int i = 0; i < actors_; ++i)
    pending_.insert(i);
  calls += pending_.size();
  return command(pending_);
}

std::string actor_round_book::retry_command() {
  if (pending_.empty())
    return {};
  retries += pending_.size();
  calls += pending_.size();
  return command(pending_);
}

void actor_round_book::take(const std::vector<std::string>& lines) {
  for (auto& line : lines) {
    std::istringstream in{line};
    std::string word, id;
    int n = 0;
    in >> word >> id;
    if (word == "aerr") {
      if (++errors <= 5)
        first_errors.push_back(line);
      else if (errors % 50 == 0) // a round that does not end says why
        std::fprintf(stderr, "actor call error %zu: %s\n", errors,
                     line.c_str());
      continue;
    }
    if (word != "aok")
      continue;
    auto i = actor_index(id);
    if (i < 0 || i >= actors_ || !(in >> n)) {
      violations.push_back("malformed actor answer '" + line + "'");
      continue;
    }
    // The n-th round applied to the actor is this one: n == round.
    if (n != round_)
      violations.push_back("actor " + id + ": round " + std::to_string(round_)
                           + " acknowledged with " + std::to_string(n)
                           + " rounds applied");
    pending_.erase(i);
  }
}

std::string actor_round_book::get_command() const {
  std::string out = "aget";
  for (int i = 0; i < actors_; ++i)
    for (auto* p : {" a-", " m-", " t-"})
      out += p + std::to_string(i);
  return out;
}

void actor_round_book::verify(const std::vector<std::string>& lines) {
  std::vector<std::string> own, mirrors, told;
  for (auto& line : lines)
    (line.find(" m-") != std::string::npos   ? mirrors
     : line.find(" t-") != std::string::npos ? told
                                             : own)
      .push_back(line);
  std::vector<int> expected(static_cast<std::size_t>(actors_), round_);
  verify_rounds(own, "a-", expected, "actor", violations);
  verify_rounds(mirrors, "m-", expected, "mirror actor", violations);
  verify_rounds(told, "t-", expected, "told actor", violations);
}

std::string actor_round_book::told_get() const {
  std::string out = "aget";
  for (int i = 0; i < actors_; ++i)
    out += " t-" + std::to_string(i);
  return out;
}

bool actor_round_book::told_done(const std::vector<std::string>& lines) const {
  int done = 0;
  for (auto& line : lines) {
    std::istringstream in{line};
    std::string word, id, rounds;
    in >> word >> id >> rounds;
    if (word != "aval" || numbered_id(id, "t-") < 0)
      continue;
    // Applied in order, so its length tells: commas + 1 (or "-": none).
    auto applied = rounds == "-" ? 0
                                 : 1 + static_cast<int>(std::count(
                                         rounds.begin(), rounds.end(), ','));
    if (applied >= round_)
      ++done;
  }
  return done == actors_;
}

void verify_rounds(const std::vector<std::string>& lines,
                   const std::string& prefix, const std::vector<int>& expected,
                   const std::string& what,
                   std::vector<std::string>& violations) {
  std::set<int> seen;
  for (auto& line : lines) {
    std::istringstream in{line};
    std::string word, id, rounds;
    in >> word >> id >> rounds;
    if (word != "aval" && word != "aerr")
      continue;
    auto i = numbered_id(id, prefix);
    if (i < 0 || i >= static_cast<int>(expected.size())) {
      violations.push_back("malformed " + what + " answer '" + line + "'");
      continue;
    }
    seen.insert(i);
    std::string want;
    for (int r = 1; r <= expected[static_cast<std::size_t>(i)]; ++r)
      want += (r > 1 ? "," : "") + std::to_string(r);
    if (want.empty())
      want = "-"; // as the node writes an empty list
    if (word == "aerr")
      violations.push_back(what + " " + id + " could not be read: " + rounds);
    else if (rounds != want)
      violations.push_back(what + " " + id + " holds rounds " + rounds
                           + ", expected " + want);
  }
  if (seen.size() != expected.size())
    violations.push_back(std::to_string(expected.size() - seen.size()) + " "
                         + what + "s not answered at the end");
}

} // namespace perdure::test
