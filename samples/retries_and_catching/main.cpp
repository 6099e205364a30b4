// SPDX-License-Identifier: Apache-2.0
// Seed example 8-8: retries (max_attempts) and catching exceptions.
#include <perdure/perdure.hpp>

#include <cstdio>
#include <random>
#include <stdexcept>

using namespace perdure;

const auto random_failure = step("random_failure", [] {
  static std::mt19937 gen{42};
  if (std::uniform_real_distribution<>{0, 1}(gen) > 0.5)
    throw std::runtime_error("Found failure");
  return std::string{"OK"};
});
const auto always_fails = step("always_fails", []() -> std::string {
  throw std::runtime_error("Found failure");
});
const auto handle_errors = step("handle_errors", [](caught<std::string> r) {
  if (!r.ok())
    return "There was an error: " + r.error();
  return std::string{"OK"};
});

int main() {
  engine eng;
  // Up to 5 attempts before giving up.
  auto s1 = eng.run(random_failure.options({.max_attempts = 5})());
  std::printf("with retries: %s\n", s1.c_str());
  // handle_errors receives the value or the error.
  auto s2 = eng.run(handle_errors(catching(always_fails)()));
  std::printf("handled: %s\n", s2.c_str());
}
