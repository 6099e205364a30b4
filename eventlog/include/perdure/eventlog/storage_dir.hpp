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
/// Files are created with O_NOFOLLOW and given options::file_mode.
std::filesystem::path default_storage_dir();

} // namespace perdure::eventlog
