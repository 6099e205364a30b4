// SPDX-License-Identifier: Apache-2.0
#pragma once

// Where a storage lives by default, and what the event log checks before it
// writes into a directory.

#include <filesystem>

namespace perdure::eventlog {

/// The default storage directory for the current user: `$PERDURE_STORAGE`
/// when set and not empty; else `/var/lib/perdure` for root; else
/// `$XDG_STATE_HOME/perdure`; else `$HOME/.local/state/perdure`; else (no
/// home) `perdure-state` under the current directory. Never a path shared by
/// users such as `/tmp`. Nothing is created here: event_log::open creates a
/// missing directory (and its missing parents) with mode 0700.
///
/// Before a writer opens a storage directory (read_only off), the log
/// refuses with errc::permission, writing nothing, a directory that is not
/// owned by the effective user or is writable by others (or by the group,
/// unless options::file_mode grants the group write access), and any of
/// its files (data.mdb, lock.mdb, perdure.lock, journal-*, data.mdb.undo)
/// that is a symbolic link, not a regular file, or owned by another user.
/// The directory is opened once without following a symbolic link as its
/// last component, unless that link is the user's own or root's (a link
/// another user planted is refused); the log's own files are opened
/// relative to it with O_NOFOLLOW, and LMDB (which opens data.mdb and
/// lock.mdb by path) only once the path still names that directory.
/// Files are given options::file_mode.
std::filesystem::path default_storage_dir();

} // namespace perdure::eventlog
