// SPDX-License-Identifier: Apache-2.0
#pragma once

// The options of a small partition store in the cluster tests: `dir`,
// durability::process (the log is the durability), a 1 MiB map to start.

#include "perdure/eventlog/types.hpp"

#include <filesystem>

namespace perdure::test {

inline eventlog::options store_options(const std::filesystem::path& dir) {
  eventlog::options o;
  o.dir = dir;
  o.mode = eventlog::durability::process;
  o.initial_map_size = std::size_t{1} << 20;
  return o;
}

} // namespace perdure::test
