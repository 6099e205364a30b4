// SPDX-License-Identifier: Apache-2.0
#pragma once

// The perdure command-line interface as a library call, so that the `perdure`
// binary, tests and applications (which pass their own argv) share it.

#include "perdure/eventlog/records/actor.hpp"
#include "perdure/eventlog/status.hpp"

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::tools {

/// The documented exit codes of the CLI (tools/README.md). Stable: scripts
/// depend on them.
enum class exit_code : int {
  ok = 0,          ///< the command did what was asked
  usage = 1,       ///< bad command line (unknown option, bad value)
  not_found = 2,   ///< no such workflow, actor, stream, step or output
  damage = 3,      ///< `verify` found damaged records or entries
  storage = 4,     ///< the storage cannot be opened or read (I/O, LMDB, format)
  refused = 5,     ///< the request conflicts with the stream's state
                   ///< (cancel a finished workflow, delete a running one)
  failed = 6,      ///< a needed external program (graphviz `dot`) failed
  workflow_failed = 7, ///< `resume`/`resume-all` (embedded CLI): a resumed
                       ///< workflow failed or was canceled
};

/// Folds events of event-sourced actor class `cls` onto its encoded state
/// `state`; returns the encoded state after them. Only the application
/// can (its apply()): the embedded CLI passes one (fold_actors<...>()),
/// `perdure` has none and shows the events beside the nearest snapshot.
/// `not_found` for a class it does not know; other errors as the
/// application's activation reports them.
using actor_fold = std::function<result<std::string>(
  std::string_view cls, std::string_view state,
  const std::vector<actor_records::stored_event>& events)>;

/// Where a run of the CLI writes, and whether those are terminals (colour,
/// progress bars).
struct cli_io {
  std::ostream& out;
  std::ostream& err;
  bool out_tty = false;
  bool err_tty = false;
  /// Event-sourced actors' fold for replay, show and diff; none: not
  /// folded (see actor_fold).
  actor_fold fold = {};
};

/// Runs the CLI on `args` (args[0] is the program name) and returns the exit
/// code as an int (see exit_code). Never throws for bad input or damaged
/// storage: it prints a one-line error "perdure: ..." on `io.err` instead;
/// a storage error other than plain I/O ends with its code, e.g. "(full)"
/// or "(permission)".
/// Reads `PERDURE_STORAGE` and `NO_COLOR` from the environment. `--follow`
/// installs a SIGINT handler for the time it follows.
int run_cli(const std::vector<std::string>& args, const cli_io& io);

/// As above, from main()'s arguments.
int run_cli(int argc, const char* const* argv, const cli_io& io);

} // namespace perdure::tools
