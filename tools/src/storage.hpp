// SPDX-License-Identifier: Apache-2.0
#pragma once

// What every command shares: the parsed global options, the way errors are
// reported (one line, a documented exit code), and opening the storage.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/tools/cli.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace perdure::tools {

/// The global options of one CLI run and where it prints.
struct context {
  std::filesystem::path storage;
  bool json = false;   ///< machine-readable output
  bool utc = false;    ///< times in UTC instead of local time
  bool color = false;  ///< ANSI colours on stdout
  const cli_io* io = nullptr;
  /// A log of `storage` already open in this process (the engine's, for
  /// the UI an application serves): commands read and write through it
  /// instead of opening the storage, which LMDB allows once per process.
  std::shared_ptr<eventlog::event_log> log = {};

  std::ostream& out() const {
    return io->out;
  }
  std::ostream& err() const {
    return io->err;
  }
};

/// The options every perdure command line takes (--storage, --json, --utc,
/// --no-color), added to `app`; finish_context() applies them after parsing.
struct common_options {
  std::string storage;
  bool no_color = false;
};
void add_common_options(CLI::App& app, context& ctx, common_options& o,
                        const std::string& storage_help);

/// Parses `argv` into `app`: on --help prints the chosen command's help and
/// returns 0, on a usage error prints it (with `try_hint`) and returns the
/// usage exit code; nothing when the line parsed.
std::optional<int> parse_command_line(CLI::App& app, int argc,
                                      const char* const* argv,
                                      const cli_io& io,
                                      const std::string& try_hint);

/// The storage default and the colour decision (a tty, no --no-color, no
/// NO_COLOR, not --json).
void finish_context(context& ctx, const common_options& o);

/// Prints "perdure: <message>" on stderr and returns `code` as an int.
int fail(const context& ctx, exit_code code, const std::string& message);

/// The exit code for an error status of the event log.
exit_code exit_code_for(const status& st);

/// Reports `st` (an error) with its exit code; a storage error other than
/// `io` ends with its code: "... (full)".
int fail(const context& ctx, const status& st);

/// Reports an unknown id the way every command does:
/// "no workflow or actor 'x' in /path (try 'perdure list')".
int fail_unknown_id(const context& ctx, std::string_view id);

/// Opens the storage read-only (works beside a running engine), or gives
/// `ctx.log` when set. A missing storage is `not_found` with a message
/// naming the directory and `--storage`.
result<std::shared_ptr<eventlog::event_log>> open_for_reading(
  const context& ctx);

/// Opens the storage for writing beside a running engine (not exclusive;
/// LMDB serialises the writers), with writer id "perdure-cli"; or gives
/// `ctx.log` when set (its records carry the engine's writer id). A
/// cluster partition's store is refused (refuse_partition_store).
result<std::shared_ptr<eventlog::event_log>> open_for_writing(
  const context& ctx);

/// Refuses (busy, naming the way through the cluster) to change a cluster
/// partition's store (perdure/eventlog/records/cluster.hpp): the cluster's
/// Kafka log is its truth. open_for_writing checks it; so does anything
/// that writes through its own open.
status refuse_partition_store(const context& ctx,
                              const eventlog::event_log& log);

/// The pid of the process holding the storage's writer lock (a running
/// engine), read from /proc/locks without touching the lock; nullopt when
/// nobody holds it.
std::optional<long> engine_pid(const std::filesystem::path& storage);

/// The status to show: a workflow stored as "running" that no engine holds
/// is "resumable" (it crashed or stopped).
std::string shown_status(const eventlog::stream_info& info, bool engine_live);

/// A stream opened for a command: the log, its directory entry, and the
/// engine holding the storage (read before the log was opened).
struct opened {
  std::shared_ptr<eventlog::event_log> log;
  eventlog::stream_info info;
  bool live = false;             ///< an engine holds the storage
  std::optional<long> engine;    ///< its pid
};

/// What open_stream checks besides the id existing.
struct stream_request {
  bool write = false; ///< open for writing beside an engine (cancel, fork)
  /// Refuse a stream of another kind with "'ID' is a K stream; COMMAND
  /// works on KINDs" and exit code `wrong_kind`.
  std::optional<eventlog::stream_kind> kind = {};
  std::string_view command = {};
  exit_code wrong_kind = exit_code::refused;
  /// An unknown bare id that names an actor as `actor/ID` opens that actor
  /// (the resolved id is `opened::info.id`).
  bool resolve_actor = false;
};

/// Opens the storage and looks `id` up; on failure (storage, unknown id,
/// wrong kind) prints the error and sets `code` to the exit code.
std::optional<opened> open_stream(const context& ctx, const std::string& id,
                                  int& code, const stream_request& req = {});

/// Prints the wrong-kind refusal of open_stream for `info` and returns
/// `code`: "'ID' is a K stream; COMMAND works on KINDs".
int fail_kind(const context& ctx, const eventlog::stream_info& info,
              eventlog::stream_kind wanted, std::string_view command,
              exit_code code = exit_code::refused);

} // namespace perdure::tools
