// SPDX-License-Identifier: Apache-2.0
// `perdure ui`: the web page and its JSON API. Every answer comes from the
// CLI's own commands (show, history, replay, graph, cancel, delete) run
// with --json into a buffer, so the page and the CLI never disagree.

#include "commands.hpp"
#include "payload_json.hpp"
#include "ui.hpp"
#include "ui_http.hpp"

#include <algorithm>
#include <csignal>
#include <pthread.h>
#include <thread>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace perdure::tools {

extern const char* const ui_index_html; // ui_assets.cpp (generated)

namespace {

constexpr std::size_t default_page = 50;
constexpr std::size_t max_page = 1000;
// Entries one list page reads at most (a rare filter: a short page).
constexpr std::size_t list_budget = 20'000;

http_response json_error(int code, const std::string& why) {
  return {code, "application/json", json{{"error", why}}.dump() + "\n"};
}

int http_code_for(int exit) {
  switch (static_cast<exit_code>(exit)) {
  case exit_code::usage: return 400;
  case exit_code::not_found: return 404;
  case exit_code::refused: return 409;
  default: return 500;
  }
}

// Payload-bearing fields --redact replaces.
const std::set<std::string> payload_keys = {
  "args", "inputs", "output", "state", "value", "payload", "after",
  "before"};

void redact(json& j) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) {
      if (payload_keys.count(k) && !v.is_null())
        v = "(redacted)";
      else
        redact(v);
    }
  } else if (j.is_array()) {
    for (auto& v : j)
      redact(v);
  }
}

struct ui_handler {
  context base;
  ui_options opts;

  // Runs one CLI command into a buffer and turns its result into a reply.
  template <class F>
  http_response run(F&& cmd, bool as_json = true,
                    std::string type = "application/json") const {
    std::ostringstream out, err;
    cli_io io{out, err};
    io.fold = base.io ? base.io->fold : actor_fold{};
    context c = base;
    c.io = &io;
    c.json = as_json;
    c.color = false;
    int rc = cmd(c);
    if (rc != 0) {
      auto why = err.str();
      if (why.starts_with("perdure: "))
        why.erase(0, 9);
      while (!why.empty() && why.back() == '\n')
        why.pop_back();
      return json_error(http_code_for(rc), why);
    }
    if (opts.redact && as_json) {
      auto j = json::parse(out.str(), nullptr, false);
      if (!j.is_discarded()) {
        redact(j);
        return {200, type, j.dump() + "\n"};
      }
    }
    return {200, std::move(type), out.str()};
  }

  http_response list(const http_request& r) const {
    auto log = open_for_reading(base);
    if (!log)
      return json_error(500, log.error().message());
    auto q = [&](const char* k) {
      auto it = r.query.find(k);
      return it == r.query.end() ? std::string{} : it->second;
    };
    list_args a;
    a.limit = default_page;
    a.budget = list_budget;
    a.prefix = q("prefix");
    a.after = q("after");
    if (!q("kind").empty())
      a.kind = q("kind");
    for (auto s = q("status"); !s.empty();) {
      auto comma = s.find(',');
      a.statuses.push_back(s.substr(0, comma));
      s = comma == std::string::npos ? "" : s.substr(comma + 1);
    }
    if (auto n = q("limit"); !n.empty())
      a.limit = std::clamp<std::size_t>(std::strtoull(n.c_str(), nullptr, 10),
                                        1, max_page);
    bool live = engine_pid(base.storage).has_value();
    auto page = list_page(**log, a, live);
    if (!page)
      return json_error(400, page.error().message());
    json items = json::array();
    for (auto& info : page->items)
      items.push_back(entry_json(info, shown_status(info, live), base.utc));
    json j{{"items", items},
           {"next", page->next ? json(*page->next) : json(nullptr)},
           {"engine_live", live}};
    return {200, "application/json", j.dump() + "\n"};
  }

  http_response kafka() const {
    auto log = open_for_reading(base);
    if (!log)
      return json_error(500, log.error().message());
    auto page = kafka_page(**log, base.utc, opts.redact);
    if (!page)
      return json_error(500, page.error().message());
    return {200, "application/json", std::move(*page)};
  }

  http_response config() const {
    json j{{"writes", opts.allow_writes}, {"redact", opts.redact},
           {"storage", base.storage.string()}};
    return {200, "application/json", j.dump() + "\n"};
  }

  bool authorized(const http_request& r) const {
    if (opts.token.empty())
      return true;
    if (auto it = r.query.find("token");
        it != r.query.end() && it->second == opts.token)
      return true;
    auto it = r.headers.find("authorization");
    return it != r.headers.end() && it->second == "Bearer " + opts.token;
  }

  http_response operator()(const http_request& r) const {
    if (!authorized(r))
      return json_error(401, "a token is required: add ?token=TOKEN or the "
                             "header 'Authorization: Bearer TOKEN'");
    auto id_it = r.query.find("id");
    std::string id = id_it == r.query.end() ? "" : id_it->second;
    if (r.method == "POST") {
      if (!opts.allow_writes)
        return json_error(403, "read-only: start 'perdure ui' with "
                               "--allow-writes to cancel or delete");
      if (r.path == "/api/cancel")
        return run([&](auto& c) { return cmd_cancel(c, id); });
      if (r.path == "/api/delete")
        return run([&](auto& c) { return cmd_delete(c, id); });
      return json_error(404, "no such endpoint: " + r.path);
    }
    if (r.method != "GET")
      return json_error(405, "only GET and POST are served");
    if (r.path == "/" || r.path == "/index.html")
      return {200, "text/html; charset=utf-8", ui_index_html};
    if (r.path == "/api/config")
      return config();
    if (r.path == "/api/list")
      return list(r);
    if (r.path == "/api/kafka")
      return kafka();
    if (id.empty() && r.path.starts_with("/api/"))
      return json_error(400, "missing query parameter 'id'");
    if (r.path == "/api/show")
      return run([&](auto& c) { return cmd_show(c, id); });
    if (r.path == "/api/history")
      return run([&](auto& c) {
        history_args h;
        h.id = id;
        return cmd_history(c, h);
      });
    if (r.path == "/api/replay") {
      auto u = r.query.find("until");
      if (u == r.query.end())
        return json_error(400, "missing query parameter 'until'");
      replay_args a;
      a.id = id;
      a.until = std::strtoull(u->second.c_str(), nullptr, 10);
      return run([&](auto& c) { return cmd_replay(c, a); });
    }
    if (r.path == "/api/graph.svg") {
      graph_args g;
      g.id = id;
      g.format = "svg";
      return run([&](auto& c) { return cmd_graph(c, g); }, false,
                 "image/svg+xml");
    }
    return json_error(404, "no such endpoint: " + r.path);
  }
};

// Threads serving a read-only storage at once.
constexpr std::size_t ui_workers = 4;

} // namespace

http_handler make_ui_handler(const context& ctx, const ui_options& o) {
  return ui_handler{ctx, o};
}

result<ui_serving> prepare_ui(const context& ctx, const ui_options& o) {
  auto log = open_for_reading(ctx); // also: is there a storage?
  if (!log)
    return std::move(log).error();
  ui_serving s{ctx, 1};
  if (o.allow_writes) {
    // Said at the start, not on the first POST.
    if (auto st = refuse_partition_store(ctx, **log); !st)
      return st;
    return s; // each request opens its own (see ui.hpp)
  }
  s.ctx.log = std::move(*log);
  s.workers = ui_workers;
  return s;
}

status check_ui_options(const listen_address& a, const ui_options& o) {
  if (!is_loopback(a.host) && !o.allow_remote)
    return {errc::invalid_argument,
            fmt::format("--listen {} is not a loopback address; add "
                        "--allow-remote to serve other machines (and "
                        "consider --token)", a.host)};
  return {};
}

int cmd_ui(const context& ctx, const ui_options& o) {
  auto addr = parse_listen(o.listen);
  if (!addr)
    return fail(ctx, exit_code::usage, addr.error().message());
  if (auto st = check_ui_options(*addr, o); !st.is_ok())
    return fail(ctx, exit_code::usage, st.message());
  auto serving = prepare_ui(ctx, o);
  if (!serving)
    return fail(ctx, serving.error());
  http_server server;
  if (auto st = server.open(*addr); !st.is_ok())
    return fail(ctx, st);
  // SIGINT and SIGTERM end it: blocked from here on (in the serving
  // threads too) and taken by sigwait, so no handler and no global.
  sigset_t stop_signals, old;
  ::sigemptyset(&stop_signals);
  ::sigaddset(&stop_signals, SIGINT);
  ::sigaddset(&stop_signals, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
  auto host = addr->host.find(':') == std::string::npos
                ? addr->host : "[" + addr->host + "]";
  ctx.out() << fmt::format("perdure ui: serving {} on http://{}:{}/{}\n",
                           ctx.storage.string(), host, server.port(),
                           o.token.empty() ? "" : "?token=...")
            << std::flush;
  std::atomic<bool> stop{false};
  std::thread serve{[&] {
    server.run(make_ui_handler(serving->ctx, o), stop, serving->workers);
  }};
  for (int sig = 0; ::sigwait(&stop_signals, &sig) != 0;) {
  }
  stop = true;
  serve.join();
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return 0;
}

} // namespace perdure::tools
