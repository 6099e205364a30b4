// SPDX-License-Identifier: Apache-2.0
#pragma once

// Recovery of the redo journal, checked before anything is written
// (FORMAT.md, "Recovery"). Private to the eventlog module.
//
// make_plan() reads the journal files, journal-foreign and data.mdb's meta
// pages and either proves what the open must do or refuses. A replay first
// saves data.mdb as data.mdb.undo (synced), then writes the checkpoint's
// meta pages back and replays; the undo goes once the replayed state is
// synced. Any failure on the way puts the undo back, so a refused open
// leaves the storage's files as they were; an open that finds an undo left
// by a crash puts it back first.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/recovery.hpp"

#include "journal.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace perdure::eventlog {

/// The journaling owner's start, after LMDB is open and before any writer
/// thread: when `recover`, pins the restored checkpoint, replays `entries`
/// after `base` and ends the replay; then a first checkpoint.
status start_journal(event_log::impl& self, bool recover, std::uint64_t base,
                     std::vector<detail::journal_entry> entries);

namespace detail {

/// A plan with what a replay needs.
struct planned {
  recovery_plan plan;
  journal_header base;                ///< the checkpoint to restore
  std::vector<journal_entry> entries; ///< the generation's entries
};

/// Reads the storage in `dir` and plans, for an owner running under boot
/// id `boot`. Never writes.
result<planned> make_plan(const std::filesystem::path& dir,
                          const std::string& boot);

/// Puts back data.mdb.undo left by an interrupted recovery (and drops a
/// partial one). Nothing to do when there is none.
status restore_undo(const std::filesystem::path& dir);

/// Saves data.mdb as data.mdb.undo (synced, with its directory entry),
/// then writes the plan's checkpoint meta pages into data.mdb.
status begin_replay(const std::filesystem::path& dir, const planned& p);

/// After the replay: syncs LMDB (the replayed state becomes durable) and
/// removes the undo.
status end_replay(const std::filesystem::path& dir, void* mdb_env);

/// After a failed replay, once LMDB is closed: puts the undo back and
/// says that the storage was left as it was.
status abandon_replay(const std::filesystem::path& dir, const status& why);

/// A writer that is not the journal's owner refuses to create data.mdb
/// beside an existing journal.
status check_data_file(const std::filesystem::path& dir);

} // namespace detail
} // namespace perdure::eventlog
