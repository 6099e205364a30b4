// SPDX-License-Identifier: Apache-2.0
// Retry waits (perdure/runtime/retry.hpp).

#include "perdure/runtime/retry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace perdure {

std::chrono::milliseconds retry_delay(std::chrono::milliseconds backoff,
                                      std::chrono::milliseconds max,
                                      double jitter, int failed,
                                      double draw) noexcept {
  using std::chrono::milliseconds;
  if (backoff.count() <= 0)
    return milliseconds{0};
  auto d = backoff * (std::int64_t{1} << std::clamp(failed - 1, 0, 16));
  if (max.count() > 0 && d > max)
    d = max;
  if (jitter > 0) {
    double f = 1.0 - std::clamp(jitter, 0.0, 1.0) * std::clamp(draw, 0.0, 1.0);
    d = milliseconds{std::llround(static_cast<double>(d.count()) * f)};
  }
  return d;
}

double retry_draw(std::string_view workflow, std::string_view step,
                  int failed) noexcept {
  // FNV-1a over the three, then splitmix64 to spread the bits.
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff; // separator: ("ab", "c") differs from ("a", "bc")
    h *= 1099511628211ull;
  };
  mix(workflow);
  mix(step);
  h ^= static_cast<std::uint64_t>(failed);
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

} // namespace perdure
