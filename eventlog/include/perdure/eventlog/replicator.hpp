// SPDX-License-Identifier: Apache-2.0
#pragma once

// A log whose durability is a replicated log (perdure's cluster: one
// partition of the Kafka log). The event_log does not commit what is
// submitted to it: its committer groups the batches as usual, encodes each
// group (group_codec.hpp) and hands the bytes to the replicator. The
// replicator appends them to the replicated log; once the group is read
// back from there and took effect, it is committed here with
// event_log::apply_group (by the replicator's own reader, as on every
// other replica), and the replicator reports apply_group's per-batch
// results, which complete the group's callers. So this store holds only
// what the replicated log returned, in the log's order, like every replica.

#include "perdure/eventlog/status.hpp"
#include "perdure/eventlog/types.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace perdure::eventlog {

/// Where an event_log opened with options::replicator sends its groups.
class group_replicator {
 public:
  /// A group's fate: the per-batch results of the apply_group that
  /// committed it here (one per batch, in order); or why it never took
  /// effect (busy: this process does not own the log's partition, or a
  /// newer owner came first, and the write may be made again there; io:
  /// the replicated log lost it); or closed:
  /// its fate is unknown (the replicator stopped), it may still take effect.
  using group_done =
    std::function<void(result<std::vector<result<commit_info>>>)>;

  virtual ~group_replicator() = default;

  /// Appends `group` (encode_group's bytes of the group's batches) to the
  /// replicated log. Called by the event_log's committer, in commit order,
  /// under its commit lock: it must not block for the log nor call into
  /// the event_log (its apply_group runs on the replicator's own thread).
  /// Calls `done` exactly once: later, once the group was applied here
  /// with apply_group (before its results are reported), or with an error;
  /// it may call it before returning (an error known at once). Groups are
  /// applied and reported in the order they were handed over.
  virtual void replicate(std::string group, group_done done) = 0;

  /// The largest group the replicated log takes, in encode_group's bytes
  /// (0, the default: no limit). The event_log hands a larger group over
  /// as consecutive groups under the limit (a batch is never split); a
  /// batch that alone is larger fails with invalid_argument, naming both
  /// sizes, and is not replicated. Must not change while the log is open.
  virtual std::size_t max_group_bytes() const {
    return 0;
  }
};

} // namespace perdure::eventlog
