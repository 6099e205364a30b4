// SPDX-License-Identifier: Apache-2.0
#pragma once

// Plain value types of the event log: records, stream directory entries,
// timers and the options an event log is opened with.

#include "perdure/eventlog/log_sink.hpp"
#include "perdure/eventlog/status.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::eventlog {

/// Sequence number of a record inside its stream; the first record is 1 and
/// 0 means "no record".
using seq_t = std::uint64_t;

/// Nanoseconds since the Unix epoch (wall clock).
using time_ns = std::int64_t;

/// The current wall-clock time in nanoseconds since the epoch.
time_ns now_ns() noexcept;

/// The longest stream id in bytes. Ids are non-empty valid UTF-8 without NUL
/// or other control characters; LMDB keys are at most 511 bytes and a log key
/// is the id plus 9 bytes.
inline constexpr std::size_t max_stream_id_size = 256;

/// The longest status text in bytes.
inline constexpr std::size_t max_status_size = 32;

/// The storage format this build writes and reads (`meta`/`format`, see
/// FORMAT.md). An open of a storage written in another format fails
/// `unsupported` before anything is written, naming both versions; so an
/// open storage always has this format.
inline constexpr std::uint8_t storage_format_version = 1;

/// Checks `id` against the stream id rules; returns a message naming the rule
/// it breaks, or an empty string when the id is valid.
std::string check_stream_id(std::string_view id);

/// What kind of thing a stream records. Stored as one byte: append only.
enum class stream_kind : std::uint8_t {
  other = 0,
  workflow = 1,
  actor = 2,
  listener = 3,
  dead_letter = 4,
};

/// "workflow", "actor", ...
std::string_view to_string(stream_kind kind) noexcept;

/// How hard a commit is pushed to the disk before it is acknowledged.
enum class durability : std::uint8_t {
  sync,    ///< fsync per group commit: survives power loss (default)
  process, ///< written to the OS only: survives a process crash, not power loss
};

/// How a `sync` group commit reaches the disk.
enum class sync_policy : std::uint8_t {
  /// The default: one fdatasync of a small redo journal per group. LMDB is
  /// committed without syncing behind it (MDB_NOSYNC) and checkpointed now
  /// and then (one LMDB sync, the meta pages saved in the journal, the
  /// snapshot pinned so that its pages stay intact). After a crash of the
  /// process LMDB is up to date; after a reboot recovery writes the last
  /// checkpoint's meta pages back and replays the journal. Only the
  /// exclusive writer journals; other writers (tools beside a running
  /// engine) commit with LMDB's full sync and record a checkpoint of their
  /// own. A record can be visible to readers a moment before it is
  /// acknowledged, never acknowledged before it is durable. FORMAT.md,
  /// "Journal".
  journal,
  /// One fdatasync per commit (LMDB's MDB_NOMETASYNC): a commit flushes its
  /// pages and the previous commit's meta page; a group is acknowledged once
  /// the next commit, or an explicit sync when no commit follows, has made
  /// its meta page durable. Integrity is LMDB's own (the on-disk meta always
  /// points at flushed pages); a record can be visible to readers up to one
  /// sync before it is acknowledged, never acknowledged before it is durable.
  pipelined,
  /// LMDB's default: data pages then meta page synced inside every commit
  /// (two syncs under the write lock); a group is acknowledged at once.
  per_commit,
};

/// One stored record as read back.
struct record {
  seq_t seq = 0;
  std::uint16_t kind = 0;  ///< record kind; see record_kinds.hpp
  time_ns time = 0;        ///< wall-clock time of the append
  std::string writer;      ///< id of the engine that wrote it
  std::string payload;     ///< payload bytes (FlexBuffers for perdure's records)
};

/// A record read in place: the views point into the LMDB map and stay valid
/// only inside the callback that receives them.
struct record_view {
  seq_t seq = 0;
  std::uint16_t kind = 0;
  time_ns time = 0;
  std::string_view writer;
  std::string_view payload;
};

/// The directory entry of a stream, kept in the same transaction as its
/// records.
struct stream_info {
  std::string id;
  stream_kind kind = stream_kind::other;
  std::string status;     ///< free text up to max_status_size, indexed
  time_ns created = 0;
  time_ns updated = 0;
  seq_t first_seq = 0;    ///< oldest retained record (0 when empty)
  seq_t last_seq = 0;     ///< newest record (0 when empty)
  seq_t snapshot_seq = 0; ///< latest snapshot point set by the owner
  std::string metadata;   ///< user metadata payload (FlexBuffers)
};

/// A durable timer: at `due`, `stream` wants to hear about `tag`.
struct timer_entry {
  time_ns due = 0;
  std::string stream;
  std::string tag;
};

class write_batch;
class group_replicator;

/// A change feed: every record of one of `kinds` appended to any stream
/// (other than a feed) is noted in stream `stream`, in the same
/// transaction (change_feed.hpp).
struct change_feed {
  std::string stream;
  std::vector<std::uint16_t> kinds;
  bool operator==(const change_feed&) const = default;
};

/// Options for opening an event log.
struct options {
  /// The storage directory; created when missing (unless read_only).
  std::filesystem::path dir;
  durability mode = durability::sync;
  /// Only for durability::sync; see sync_policy.
  sync_policy sync = sync_policy::journal;
  /// sync_policy::journal: the most bytes of one journal file (two are
  /// kept); a full file starts a checkpoint. At least 1 MiB.
  std::size_t journal_size = std::size_t{16} << 20;
  /// sync_policy::journal: the longest time between checkpoints while
  /// writes go on. A checkpoint syncs what LMDB wrote since the last one,
  /// and journal syncs wait behind that: shorter intervals lower the tail
  /// latency under heavy writes and bound data.mdb's growth (pages freed
  /// after a checkpoint are reused only after the next) and replay after a
  /// reboot; longer ones give more throughput (test/bench/RESULTS.md).
  std::chrono::milliseconds checkpoint_interval{100};
  /// sync_policy::journal: how often, while concurrent writers commit
  /// (groups of several batches), the kernel is asked to start writing
  /// LMDB's dirty pages back (sync_file_range, without waiting), so that a
  /// checkpoint's sync finds little left and journal syncs do not queue
  /// behind a whole interval of pages. A lone writer's commits never
  /// trigger it (its latency would only pay for the disk work). Shorter: a
  /// lower tail latency under load for some throughput; 0: off (write-back
  /// only at checkpoints). test/bench/RESULTS.md has the figures.
  std::chrono::milliseconds writeback_interval{3};
  /// The map size to start with; LMDB's own default is only 1 MiB.
  std::size_t initial_map_size = std::size_t{64} << 20;
  /// The map grows (doubling) up to this size; beyond it commits fail `full`.
  std::size_t max_map_size = std::size_t{64} << 30;
  /// Open for reading only; may run beside a writer in another process.
  bool read_only = false;
  /// Refuse (errc::busy) when another writer holds the directory. Engines
  /// keep this on; a tool writing beside a running engine (cancel, fork)
  /// turns it off, and LMDB serializes the two writers. Such a writer
  /// (durability::sync) records each commit in journal-foreign: open fails
  /// (`permission`, nothing written) when it cannot write that file.
  bool exclusive = true;
  /// The permission bits of every file the log creates (data.mdb, lock.mdb,
  /// the journal, perdure.lock, ...), applied whatever the umask; owner
  /// read-write only by default. A directory the log creates gets these
  /// bits plus the matching search bits (0600 -> 0700, 0640 -> 0750).
  /// Group bits allow a group-writable storage directory; world-writable
  /// ones are always refused. Only read and write bits are allowed.
  unsigned file_mode = 0600;
  /// Install the process-wide SIGSEGV/SIGBUS handlers (once per process, on
  /// the first open that asks) that turn a damaged LMDB page number into a
  /// `corruption` error instead of a crash. Faults outside an LMDB call go
  /// to the handler installed before, or take the default action. Turn off
  /// when the application owns those signals; damaged storage can then
  /// crash the process.
  bool map_guard = true;
  /// The change feeds of the storage. A value (a writer only) replaces the
  /// stored rules, so that every later writer, whatever its options, notes
  /// alike; none (the default) follows the stored rules. Each stream id
  /// must be valid and not a feed's source: `invalid_argument`. A feed
  /// notes only records appended after the rules that name it were set.
  std::optional<std::vector<change_feed>> change_feeds = std::nullopt;
  /// The id of the engine writing records (stored in every envelope).
  std::string writer_id = "perdure";
  /// The most batches one group commit takes from the queue.
  std::size_t max_batches_per_commit = 4096;
  /// Called on the writer thread with every batch that committed, in commit
  /// order, before its completion runs: replaying the batches in this order
  /// into an empty log rebuilds the same streams (the crash-at-every-write
  /// harness records storage this way). Must be quick and must not write.
  std::function<void(const write_batch&)> on_commit = {};
  /// Where the log reports what failed nothing (on the writer thread):
  /// a writer that is not exclusive whose commit succeeded but could not be
  /// recorded in journal-foreign (a reboot before the owner's next
  /// checkpoint could roll it back), as a warning. Empty: stderr
  /// (stderr_log_sink). Must be quick and must not write to the log.
  log_sink log = {};
  /// Set: the log is one replica of a replicated log (perdure's cluster,
  /// replicator.hpp). submit()'s groups are not committed here but handed
  /// to the replicator, and complete once it applied them here with
  /// apply_group; their durability is the replicated log's. Needs an
  /// exclusive writer with durability::process (the usual choice: the
  /// replicated log is the durability) or the journal; invalid_argument
  /// otherwise. Groups handed over and not decided when the log closes
  /// complete with closed (their fate is unknown).
  std::shared_ptr<group_replicator> replicator = nullptr;
};

} // namespace perdure::eventlog
