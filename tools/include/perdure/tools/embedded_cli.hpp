// SPDX-License-Identifier: Apache-2.0
#pragma once

// The CLI inside an application: the application passes its argv and gets
// every `perdure` command plus the two that need its registered steps,
//
//   app [--storage DIR] [--json] resume ID
//   app [--storage DIR] [--json] resume-all [--include-failed]
//
// which open the application's engine, resume, wait for the workflows to end
// and print their outputs. Read commands never open an engine (they run
// beside one in another process, like `perdure`); `app ui` serves the web
// page as `perdure ui` does, folding the application's event-sourced
// actors (to serve it from a running engine instead, see
// perdure/tools/embedded_ui.hpp). Link `perdure_tools_embedded`.

#include "perdure/runtime/engine.hpp"
#include "perdure/tools/cli.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace perdure::tools {

/// Opens the application's engine on `storage` (steps are registered by
/// their `step(...)` definitions; the factory chooses durability, capacity,
/// metrics, ...). Called only for `resume` and `resume-all`. Open with
/// `.resume_on_open = false`, or `resume ID` resumes every resumable
/// workflow (the open does) and waits for ID only.
using engine_factory =
  std::function<result<std::unique_ptr<engine>>(const std::filesystem::path&)>;

/// The default factory: `engine::open({.storage = storage,
/// .resume_on_open = false})`.
result<std::unique_ptr<engine>> open_default_engine(
  const std::filesystem::path& storage);

/// Runs `perdure` commands, `resume` and `resume-all` on `args` (args[0] is
/// the program name) and returns the exit code (see exit_code; a resumed
/// workflow that fails or is canceled exits `workflow_failed`). Never throws
/// for bad input. An application must not hold an engine on the same
/// storage while it calls this: LMDB allows one environment per storage and
/// process (read commands open their own).
int run_embedded_cli(const std::vector<std::string>& args, const cli_io& io,
                     const engine_factory& open_engine = open_default_engine);

/// As above, from main()'s arguments, printing to std::cout / std::cerr.
/// `fold` (perdure::fold_actors<A, B...>() from perdure/actors/fold.hpp)
/// lets replay, show and diff fold the application's event-sourced actors
/// (see cli_io::fold).
int run_embedded_cli(int argc, const char* const* argv,
                     const engine_factory& open_engine = open_default_engine,
                     actor_fold fold = {});

} // namespace perdure::tools
