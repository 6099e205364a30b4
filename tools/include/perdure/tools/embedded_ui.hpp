// SPDX-License-Identifier: Apache-2.0
#pragma once

// The web page and JSON API of `perdure ui` served by a running
// application, through the engine's own log (tools/README.md):
//
//   perdure::engine eng{{.ui_address = "127.0.0.1:8233",
//                        .ui_server = perdure::tools::embedded_ui()}};
//
// or, on an engine already open, perdure::tools::serve_ui(eng, address).
// Link `perdure_tools_embedded`.

#include "perdure/runtime/engine.hpp"
#include "perdure/tools/cli.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace perdure::tools {

/// The safety options of an application's UI, as `perdure ui`'s flags.
struct embedded_ui_options {
  /// Allow an address that is not loopback (else the open fails
  /// `invalid_argument`); consider a token too.
  bool allow_remote = false;
  /// Serve POST /api/cancel and /api/delete (cancel and delete buttons);
  /// else they answer 403.
  bool allow_writes = false;
  /// When set, required on every request (?token= or "Authorization:
  /// Bearer"); else 401.
  std::string token = {};
  /// Show inputs, outputs, states and payloads as "(redacted)".
  bool redact = false;
  /// Times in UTC instead of local time.
  bool utc = false;
  /// The application's event-sourced actors' fold (see cli_io::fold).
  actor_fold fold = {};
};

/// Starts serving the UI of `eng` on `address` ("127.0.0.1:8233",
/// "[::1]:0"; port 0: an ephemeral port) on a thread of its own, attached
/// to the engine (stopped first when it closes), and returns the bound
/// port. Fails `invalid_argument` for a malformed address or a
/// non-loopback one without allow_remote, `io` when it cannot listen.
result<std::uint16_t> serve_ui(engine& eng, std::string_view address,
                               const embedded_ui_options& o = {});

/// The engine_options::ui_server that calls serve_ui with `o`.
std::function<result<std::uint16_t>(engine&, std::string_view)>
embedded_ui(embedded_ui_options o = {});

} // namespace perdure::tools
