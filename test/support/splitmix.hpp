// SPDX-License-Identifier: Apache-2.0
#pragma once

// splitmix64: the tests' seeded generator. A seed replays the same
// schedule with any standard library (std's distributions may differ).

#include <cstddef>
#include <cstdint>

namespace perdure::test {

struct splitmix64 {
  std::uint64_t s = 0;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// In [0, n). @pre n > 0
  std::size_t below(std::size_t n) {
    return static_cast<std::size_t>(next() % n);
  }
  /// In [0, 1).
  double unit() {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
  }
};

} // namespace perdure::test
