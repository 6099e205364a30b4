// SPDX-License-Identifier: Apache-2.0
// Power-loss images for the journal suites: the disk after a crash as a
// mix of data.mdb's pages as checkpointed and as last written, with the
// journal files as synced; and what the recovered log must hold.
#pragma once

#include "journal_support.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <string>

namespace perdure::test {

// What the disk may hold after a power loss: each page of data.mdb either as
// it was when the checkpoint synced it (`at_checkpoint`) or as the OS had it
// at the end (`final`); pages past the checkpoint's end either written or
// zero. The journal files are as synced (acknowledged entries are durable).
inline std::string mix_pages(const std::string& at_checkpoint,
                             const std::string& final,
                             std::mt19937& rng, int mode) {
  constexpr std::size_t page = 4096;
  std::string out = final;
  for (std::size_t at = 0; at < out.size(); at += page) {
    bool old = mode == 0 ? true : mode == 1 ? false : (rng() & 1) != 0;
    if (!old)
      continue;
    auto n = std::min(page, out.size() - at);
    if (at + n <= at_checkpoint.size())
      out.replace(at, n, at_checkpoint, at, n);
    else
      out.replace(at, n, std::string(n, '\0'));
  }
  return out;
}

// The journal files as they are now; taken together with data.mdb, since
// a running log may write a checkpoint entry later.
using journal_files = std::map<std::string, std::string>;
inline journal_files slurp_journals(const std::filesystem::path& from) {
  journal_files out;
  for (auto name : {"journal-0", "journal-1", "journal-foreign"})
    if (std::filesystem::exists(from / name))
      out[name] = slurp(from / name);
  return out;
}

inline void copy_storage(const journal_files& journals,
                         const std::filesystem::path& to,
                         const std::string& data) {
  std::filesystem::create_directories(to);
  spit(to / "data.mdb", data);
  for (auto& [name, bytes] : journals)
    spit(to / name, bytes);
}

inline void check_contents(eventlog::event_log& log,
                           const expected_map& want) {
  for (auto& [stream, payloads] : want) {
    auto r = log.read(stream);
    REQUIRE_MESSAGE(r.has_value(), stream, ": ", r.as_status().to_string());
    REQUIRE(r->size() == payloads.size());
    for (std::size_t i = 0; i < payloads.size(); ++i)
      CHECK((*r)[i].payload == payloads[i]);
  }
  auto damage = log.verify();
  REQUIRE(damage);
  CHECK(damage->empty());
}

inline std::string payload(int s, int i) {
  return std::string(static_cast<std::size_t>(20 + (i * 53) % 900),
                     static_cast<char>('a' + (s + i) % 26))
         + "#" + std::to_string(i);
}

} // namespace perdure::test
