// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the cluster benchmarks share: perdure-bench-node processes driven
// line by line over their stdin/stdout (see bench_node_main.cpp).

#include "subprocess.hpp"

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace perdure::bench {

/// The environment variable `name`, or `fallback` when unset or empty.
inline std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string{v} : fallback;
}

/// Sends `line` to a bench node and returns its answer line; throws when
/// the node closed its input or did not answer within `wait`.
inline std::string ask(test::subprocess& node, const std::string& line,
                       std::chrono::milliseconds wait) {
  if (!node.send_line(line))
    throw std::runtime_error{"a bench node closed its input"};
  auto answer = node.read_line(wait);
  if (answer.empty())
    throw std::runtime_error{"a bench node did not answer '" + line + "'"};
  return answer;
}

} // namespace perdure::bench
