// SPDX-License-Identifier: Apache-2.0
#pragma once

// `perdure ui`: options, the list page's paging and the request handler
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
  std::string token;         ///< when set, required on every request
  bool redact = false;       ///< payload fields shown as "(redacted)"
};

/// One page of the list: filters as `perdure list` takes them, plus an id
/// prefix and a cursor (the last id of the previous page).
struct list_page_args {
  std::vector<std::string> statuses;
  std::optional<std::string> kind;
  std::string prefix;
  std::string after;
  std::size_t limit = 50;
};
struct list_page_result {
  std::vector<eventlog::stream_info> items;
  std::optional<std::string> next; ///< the cursor of the next page
};

/// The streams of one page in id order. An unknown kind or status is
/// `invalid_argument` naming it.
result<list_page_result> list_page(const eventlog::event_log& log,
                                   const list_page_args& a, bool engine_live);

/// Refuses a non-loopback address without allow_remote.
status check_ui_options(const listen_address& a, const ui_options& o);

/// The handler of every request: the page, the JSON API, the safety rules.
http_handler make_ui_handler(const context& ctx, const ui_options& o);

/// `perdure ui`: serves until SIGINT/SIGTERM.
int cmd_ui(const context& ctx, const ui_options& o);

} // namespace perdure::tools
