#pragma once

// Safe storage directories: created 0700, checked before anything is
// written (owner, modes, no symbolic links), files given options::file_mode.
// See perdure/eventlog/storage_dir.hpp for the contract.

#include "perdure/eventlog/status.hpp"
#include "perdure/eventlog/types.hpp"

namespace perdure::eventlog::detail {

/// Creates `o.dir` and its missing parents (mode from o.file_mode), then
/// checks the directory and the storage files already in it.
status prepare_storage_dir(const options& o);

/// Opens `name` in `dir` for reading and writing without following a
/// symbolic link, creating it with `mode` (whatever the umask) when
/// missing. Returns the descriptor, or -1 with errno set.
int open_storage_file(const std::filesystem::path& dir, const char* name,
                      unsigned mode);

/// Gives every storage file in `o.dir` that the user owns o.file_mode
/// (tightening files an older perdure created 0644).
status apply_file_modes(const options& o);

} // namespace perdure::eventlog::detail
