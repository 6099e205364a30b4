// SPDX-License-Identifier: Apache-2.0
#pragma once

// One group of write batches applied as one LMDB write transaction (and,
// with the journal, its entry written before the commit). The group
// commit's policy around it (grouping, growing the map, checkpoints,
// syncs) is log_writer.cpp's and log_loops.cpp's.

#include "log_impl.hpp"

#include <vector>

namespace perdure::eventlog::detail {

/// What write_group did.
struct group_outcome {
  int rc = MDB_SUCCESS; // MDB_MAP_FULL asks the caller to grow and retry
  status failure;       // any other failure of the whole transaction
  // Journal: a foreign commit came in between, or the journal file is full;
  // checkpoint and try again.
  bool need_checkpoint = false;
  // Journal: committed without an entry (larger than a journal file);
  // durable only after a checkpoint.
  bool unjournaled = false;
  std::vector<result<commit_info>> results;
};

/// Validates each batch of `batch` (a refused one gets its error and
/// writes nothing), applies the others in one transaction and commits it,
/// stamping records with `now` and `writer_id`. Writer thread only.
group_outcome write_group(event_log::impl& self,
                          std::vector<event_log::impl::pending>& batch,
                          time_ns now, std::string_view writer_id);

} // namespace perdure::eventlog::detail
