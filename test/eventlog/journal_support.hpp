// SPDX-License-Identifier: Apache-2.0
// What the journal suites share: journaling options, an open that must
// succeed, whole-file reads and writes, and a simulated reboot.
#pragma once

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace perdure::test {

/// Journal durability; checkpoints only when asked (or when the journal
/// needs one), never on a timer.
inline eventlog::options journal_opts(const std::filesystem::path& dir) {
  eventlog::options o;
  o.dir = dir;
  o.sync = eventlog::sync_policy::journal;
  o.checkpoint_interval = std::chrono::hours{1};
  return o;
}

inline std::unique_ptr<eventlog::event_log> open_ok(eventlog::options o) {
  auto r = eventlog::event_log::open(std::move(o));
  REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
  return std::move(*r);
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

inline void spit(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out{p, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Sets PERDURE_BOOT_ID for its lifetime (when `on`): the process pretends
/// to run after a reboot.
class other_boot {
 public:
  explicit other_boot(bool on = true) : on_(on) {
    if (on_)
      ::setenv("PERDURE_BOOT_ID", "rebooted-0000", 1);
  }
  ~other_boot() {
    if (on_)
      ::unsetenv("PERDURE_BOOT_ID");
  }
  other_boot(const other_boot&) = delete;
  other_boot& operator=(const other_boot&) = delete;

 private:
  bool on_;
};

/// Each stream's payloads, in order.
using expected_map = std::map<std::string, std::vector<std::string>>;

} // namespace perdure::test
