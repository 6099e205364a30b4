// SPDX-License-Identifier: Apache-2.0
#pragma once

// What opening a storage would do to settle its redo journal, found by
// reading the files only (FORMAT.md, "Recovery"). Used by `perdure recover
// --dry-run` and `perdure verify`; event_log::open() follows the same plan.

#include "perdure/eventlog/status.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace perdure::eventlog {

/// The outcome of reading a storage's journal, journal-foreign and the meta
/// pages of data.mdb.
struct recovery_plan {
  enum class action : std::uint8_t {
    none,       ///< no journal, or closed cleanly: open as it is
    checkpoint, ///< left open by a crash in this boot: LMDB is current
    replay,     ///< restore a checkpoint and replay the journal after it
    refuse,     ///< the result cannot be proven: open fails `corruption`
  };
  action what = action::none;
  std::string reason;        ///< why, in one sentence
  status problem;            ///< for `refuse`: names the file and the offset
  std::string journal_file;  ///< the current generation's file, or empty
  std::uint32_t journal_version = 0;
  std::uint64_t generation = 0;
  std::uint64_t checkpoint_txnid = 0; ///< the newest checkpoint
  std::string checkpoint_source;      ///< where it is recorded
  std::uint64_t data_txnid = 0;       ///< the newest meta page of data.mdb
  std::uint64_t entries = 0;          ///< valid entries of the generation
  std::uint64_t last_txnid = 0;       ///< the newest journaled transaction
  std::uint64_t replay = 0;           ///< transactions a replay applies
  std::uint64_t journal_end = 0;      ///< byte where the entries end
  std::string journal_end_kind;       ///< "zeros", "torn entry", "sealed", ...
  bool rebooted = false;              ///< the journal is from another boot
  /// data.mdb.undo of an interrupted recovery exists; the open first puts
  /// it back as data.mdb (the plan describes that file).
  bool undo_pending = false;
};

/// "none", "checkpoint", "replay" or "refuse".
std::string_view to_string(recovery_plan::action a) noexcept;

/// Reads (never writes, never creates) the journal files, journal-foreign
/// and data.mdb's meta pages in `dir` and says what the next journaling
/// owner's open would do. A damaged journal or data file is a plan with
/// `action::refuse`, not an error; the error is `io` when a file cannot be
/// read. Meaningful only while no engine has the storage open (a live
/// owner's journal is being written).
result<recovery_plan> plan_recovery(const std::filesystem::path& dir);

} // namespace perdure::eventlog
