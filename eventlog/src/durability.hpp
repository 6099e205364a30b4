// SPDX-License-Identifier: Apache-2.0
#pragma once

// How a committed group becomes durable, chosen once at open: at once
// (process mode, or LMDB's own sync inside the commit), pipelined (the next
// commit's fdatasync makes the previous group's meta page durable), or the
// redo journal (a syncer thread's fdatasync per group, checkpoints behind
// it, their data sync on the writer thread). The committer drives it under the log's commit lock: the writer
// thread, or a submitting thread where callers_commit() (log_loops.cpp);
// the replicated log (durability_replicated.cpp) takes the groups instead
// of a local commit. Completions run in commit order on the thread that
// made their group durable.

#include "perdure/eventlog/event_log.hpp"
#include "commit_queue.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace perdure::eventlog::detail {

/// A committed (or failed) group's completions with their results.
struct done_group {
  std::vector<event_log::completion> done;
  std::vector<result<commit_info>> results;
  std::chrono::steady_clock::time_point started{};
  /// Committed inside a submit() whose submitter waits for it
  /// (event_log::then::waits): the durability may sync it on that thread.
  bool waits = false;
};

class group_durability {
 public:
  using clock = std::chrono::steady_clock;
  virtual ~group_durability() = default;

  /// Whether a submitting thread may commit a group itself (leveldb's
  /// leader) instead of handing it to the writer: only where a commit
  /// never waits for the disk (no sync inside it). Fixed at open.
  virtual bool callers_commit() const {
    return false;
  }
  /// Writer thread, before it waits for batches: when it must run again
  /// even without any (periodic work), if ever. Where callers_commit(),
  /// called without the commit lock (a caller may be committing).
  virtual std::optional<clock::time_point> deadline() const {
    return std::nullopt;
  }
  /// Writer thread, after each wait, WITHOUT the commit lock (only where
  /// callers_commit()): disk work that must not hold commits up, such as a
  /// checkpoint's data sync or paced write-back.
  virtual void background() {
  }
  /// Writer thread, after background() (`woken`: wake() was called for
  /// it), under the commit lock: periodic work such as checkpoints.
  virtual void tick(bool woken) {
    static_cast<void>(woken);
  }
  /// Writer thread: nothing is queued; make any held group durable now.
  /// Never called where callers_commit() (nothing is held there).
  virtual void idle() {
  }
  /// The committer, under the commit lock, with a group taken from the
  /// queue: true when this durability took it instead of a local commit
  /// (a replicated log: the group is committed here later, through
  /// apply_group, and its completions run then).
  virtual bool commit_elsewhere(std::vector<pending>& group) {
    static_cast<void>(group);
    return false;
  }
  /// The committer (the writer, or a caller where callers_commit()): `g`'s
  /// transaction committed (`committed`), or failed or reached no LMDB
  /// commit. Completes `g` once durable, in commit order.
  virtual void after_commit(done_group g, bool committed) = 0;
  /// Writer thread, before a synchronous checkpoint: nothing of this
  /// durability is in flight afterwards.
  virtual void quiesce() {
  }
  /// Writer thread, last: every group completed; returns close()'s status.
  virtual status finish() = 0;
  /// close(), after the writer thread ended: stops any thread of its own.
  virtual void stop() {
  }
};

/// The durability `self`'s options and open ask for (journal: started
/// already, see start_journal).
std::unique_ptr<group_durability> make_durability(event_log::impl& self);

/// The redo journal's: a syncer thread (which also commits what was held
/// back during its sync) and periodic checkpoints.
std::unique_ptr<group_durability>
make_journal_durability(event_log::impl& self);

/// Hands submitted groups to options::replicator and completes them when
/// it reports them applied; `local` makes apply_group's commits durable.
std::unique_ptr<group_durability>
make_replicated_durability(event_log::impl& self,
                           std::unique_ptr<group_durability> local);

} // namespace perdure::eventlog::detail
