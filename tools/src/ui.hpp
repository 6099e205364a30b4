// SPDX-License-Identifier: Apache-2.0
#pragma once

// `perdure ui`: options, the safety check and the request handler
// (tests drive the handler through a real server on 127.0.0.1:0).

#include "commands.hpp"
#include "ui_http.hpp"

#include <optional>
#include <string>
#include <vector>

namespace perdure::tools {

/// The options of `perdure ui`.
struct ui_options {
  std::string listen = "127.0.0.1:8233";
  bool allow_remote = false; ///< required for a non-loopback --listen
  bool allow_writes = false; ///< serve POST /api/cancel and /api/delete
  std::string token = {};    ///< when set, required on every request
  bool redact = false;       ///< payload fields shown as "(redacted)"
};

/// GET /api/kafka: every Kafka subscription the storage knows (from its
/// stored offsets and dead-letter streams) with the next offset of each
/// partition, its dead-letter count and last 20 dead letters, as JSON
/// text (tools/README.md). `redact` hides the dead letters' keys and values.
result<std::string> kafka_page(const eventlog::event_log& log, bool utc,
                               bool redact);

/// Refuses a non-loopback address without allow_remote.
status check_ui_options(const listen_address& a, const ui_options& o);

/// How `perdure ui` serves a storage. Read-only: the storage opened once
/// (`ctx.log`) and shared by a few threads. With allow_writes, each request
/// opens the storage itself and one thread serves them: a cancel opens a
/// writer, and LMDB forbids a second environment of the same storage open
/// in the process meanwhile. Fails as open_for_reading.
struct ui_serving {
  context ctx;
  std::size_t workers = 1;
};
result<ui_serving> prepare_ui(const context& ctx, const ui_options& o);

/// The handler of every request: the page, the JSON API, the safety rules.
http_handler make_ui_handler(const context& ctx, const ui_options& o);

/// `perdure ui`: serves until SIGINT/SIGTERM.
int cmd_ui(const context& ctx, const ui_options& o);

} // namespace perdure::tools
