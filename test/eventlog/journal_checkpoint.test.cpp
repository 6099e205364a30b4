// SPDX-License-Identifier: Apache-2.0
// The journal's periodic checkpoint, taken while the writer goes on, is a
// valid recovery base after a power loss.

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <random>

#include "journal_images.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

using namespace perdure;
using namespace perdure::eventlog;
using namespace perdure::test;
namespace fs = std::filesystem;

TEST_CASE("journal: a periodic checkpoint (taken while the writer goes on) is a valid recovery base") {
  // The scenario needs no third checkpoint between taking the copies below;
  // on a machine slow enough to let the 3 s interval pass in between, it
  // starts again on a fresh directory (the condition, not a time, decides).
  std::optional<test::temp_dir> dir;
  expected_map want;
  std::string at_checkpoint, final_data;
  journal_files journals;
  for (int attempt = 1;; ++attempt) {
    dir.emplace();
    want.clear();
    auto o = journal_opts(dir->path());
    o.checkpoint_interval = std::chrono::milliseconds{3000};
    auto log = open_ok(o);
    for (int i = 0; i < 50; ++i) {
      REQUIRE(log->append("p", 1, payload(2, i)));
      want["p"].push_back(payload(2, i));
    }
    // Wait for the periodic checkpoint; it counts once its journal entry
    // is synced.
    REQUIRE(wait_until([&] { return log->stats().checkpoints >= 2; }));
    REQUIRE(log->stats().checkpoints == 2);
    at_checkpoint = slurp(*dir / "data.mdb");
    for (int i = 50; i < 110; ++i) {
      REQUIRE(log->append("p", 1, payload(2, i)));
      want["p"].push_back(payload(2, i));
    }
    final_data = slurp(*dir / "data.mdb");
    journals = slurp_journals(dir->path());
    // No later checkpoint may have synced pages the mix below takes as lost.
    if (log->stats().checkpoints == 2)
      break;
    MESSAGE("a third checkpoint ran during attempt " << attempt << "; again");
    REQUIRE(attempt < 5);
  }
  for (int mode = 0; mode < 8; ++mode) {
    CAPTURE(mode);
    std::mt19937 rng(static_cast<unsigned>(mode * 31 + 5));
    auto crash = *dir / ("crash" + std::to_string(mode));
    copy_storage(journals, crash,
                 mix_pages(at_checkpoint, final_data, rng, mode < 2 ? mode : 2));
    other_boot reboot;
    auto r = open_ok(journal_opts(crash));
    check_contents(*r, want);
  }
}
