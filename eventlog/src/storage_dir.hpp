// SPDX-License-Identifier: Apache-2.0
#pragma once

// Safe storage directories: created 0700, checked before anything is
// written (owner, modes, no symbolic links), files given options::file_mode.
// See perdure/eventlog/storage_dir.hpp for the contract.

#include "perdure/eventlog/status.hpp"
#include "perdure/eventlog/types.hpp"

namespace perdure::eventlog::detail {

/// Creates `o.dir` and its missing parents (mode from o.file_mode), opens
/// it once (its last component is followed only as a link of this user's
/// or root's) and checks the directory and the storage files already in
/// it. Returns the directory's descriptor, for the calls below; the caller
/// closes it.
result<int> prepare_storage_dir(const options& o);

/// errc::permission when `dir` no longer names the directory `dfd` is
/// (replaced after prepare_storage_dir): checked before LMDB, which opens
/// its files by path.
status check_same_dir(int dfd, const std::filesystem::path& dir);

/// Opens `name` in the directory `dfd` for reading and writing without
/// following a symbolic link, creating it with `mode` (whatever the umask)
/// when missing. Returns the descriptor, or -1 with errno set.
int open_storage_file(int dfd, const char* name, unsigned mode);

/// Gives every storage file in the directory `dfd` (o.dir) that the user
/// owns o.file_mode (tightening files an older perdure created 0644).
status apply_file_modes(int dfd, const options& o);

} // namespace perdure::eventlog::detail
