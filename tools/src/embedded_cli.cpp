// SPDX-License-Identifier: Apache-2.0
// The embedded CLI: `resume` and `resume-all` open the application's engine
// (they need its steps); every other command goes to run_cli unchanged, so
// read commands work without an engine and beside one.

#include "perdure/tools/embedded_cli.hpp"

#include "format.hpp"
#include "payload_json.hpp"
#include "storage.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

namespace perdure::tools {

namespace {

constexpr const char* app_commands_help =
  "Commands of this application (need its steps):\n"
  "  resume ID                      resume a resumable or failed workflow "
  "and wait for it\n"
  "  resume-all [--include-failed]  resume every resumable (and failed) "
  "workflow and wait\n"
  "Exit code 7: a resumed workflow failed or was canceled.\n";

// The first argument that is a command, skipping the global options (and
// the value of --storage).
std::optional<std::string_view> command_of(const std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--storage") {
      ++i;
      continue;
    }
    if (!a.starts_with("-"))
      return a;
  }
  return std::nullopt;
}

// How a resumed workflow ended, for printing.
struct ended {
  std::string id;
  std::string status; ///< successful, failed, canceled, not resumed
  std::optional<json> output;
  std::string error;
};

ended await_end(engine& eng, const handle<>& h) {
  ended e;
  e.id = h.id();
  auto st = h.try_get();
  if (st) {
    e.status = "successful";
    auto bytes = eng.output_bytes(e.id, {});
    if (bytes)
      e.output = value_json(*bytes);
    return e;
  }
  e.status = st.code() == errc::canceled ? "canceled"
             : st.code() == errc::failed ? "failed"
                                         : "stopped";
  e.error = st.message();
  return e;
}

json to_json(const ended& e) {
  json j{{"id", e.id}, {"status", e.status}};
  if (e.output)
    j["output"] = *e.output;
  if (!e.error.empty())
    j["error"] = e.error;
  return j;
}

std::string output_text(const ended& e) {
  if (e.output)
    return dump_compact(*e.output);
  return e.error;
}

int exit_for(const std::vector<ended>& all) {
  for (auto& e : all)
    if (e.status != "successful")
      return static_cast<int>(exit_code::workflow_failed);
  return 0;
}

int cmd_resume(const context& ctx, engine& eng, const std::string& id) {
  auto h = eng.try_resume(id);
  if (!h) {
    if (h.error() == errc::not_found)
      return fail(ctx, exit_code::not_found,
                  fmt::format("no workflow '{}' in {} (try '{} list')", id,
                              ctx.storage.string(), "perdure"));
    if (h.error() == errc::type_mismatch)
      return fail(ctx, exit_code::refused, h.error().message());
    return fail(ctx, h.error());
  }
  auto e = await_end(eng, *h);
  if (ctx.json) {
    ctx.out() << dump_pretty(to_json(e)) << '\n';
  } else {
    print_fields(ctx.out(),
                 {{"id", cell{e.id}},
                  {"status", cell{e.status, status_style(e.status)}},
                  {e.output ? "output" : "error", cell{output_text(e)}}},
                 ctx.color);
  }
  return exit_for({e});
}

int cmd_resume_all(const context& ctx, engine& eng, bool include_failed) {
  // `running` here is what the engine resumed when it opened
  // (engine_options::resume_on_open): nothing else runs in this process,
  // and try_resume returns those runs.
  std::vector<workflow_status> which{workflow_status::resumable,
                                     workflow_status::running};
  if (include_failed)
    which.push_back(workflow_status::failed);
  auto entries = eng.try_list(which);
  if (!entries)
    return fail(ctx, entries.error());
  // Start them all, then wait: they run concurrently.
  std::vector<handle<>> started;
  std::vector<ended> all;
  for (auto& entry : *entries) {
    auto h = eng.try_resume(entry.id);
    if (h)
      started.push_back(std::move(*h));
    else
      all.push_back({entry.id, "not resumed", std::nullopt,
                     h.error().message()});
  }
  for (auto& h : started)
    all.push_back(await_end(eng, h));
  std::sort(all.begin(), all.end(),
            [](auto& a, auto& b) { return a.id < b.id; });
  if (ctx.json) {
    auto arr = json::array();
    for (auto& e : all)
      arr.push_back(to_json(e));
    ctx.out() << dump_pretty(arr) << '\n';
  } else if (all.empty()) {
    ctx.out() << "nothing to resume in " << ctx.storage.string() << '\n';
  } else {
    table t{{"ID", "STATUS", "OUTPUT / ERROR"}};
    for (auto& e : all)
      t.add({e.id, cell{e.status, status_style(e.status)}, output_text(e)});
    t.print(ctx.out(), ctx.color);
  }
  return exit_for(all);
}

int run_app_command(const std::vector<std::string>& args, const cli_io& io,
                    const engine_factory& open_engine) {
  CLI::App app{"Application commands that need its registered steps.",
               args.empty() ? "app" : args[0]};
  app.require_subcommand(1);
  app.fallthrough();
  context ctx;
  ctx.io = &io;
  common_options common;
  add_common_options(app, ctx, common, "storage directory");
  std::string id;
  auto* resume = app.add_subcommand("resume", "resume a workflow and wait "
                                              "for its end");
  resume->add_option("ID", id, "workflow id")->required();
  bool include_failed = false;
  auto* resume_all = app.add_subcommand("resume-all", "resume every "
                                                      "resumable workflow");
  resume_all->add_flag("--include-failed", include_failed,
                       "also resume failed workflows");
  std::vector<const char*> argv;
  for (auto& a : args)
    argv.push_back(a.c_str());
  if (auto code = parse_command_line(app, static_cast<int>(argv.size()),
                                     argv.data(), io,
                                     app.get_name() + " --help"))
    return *code;
  finish_context(ctx, common);
  auto eng = open_engine(ctx.storage);
  if (!eng)
    return fail(ctx, eng.error());
  try {
    if (resume->parsed())
      return cmd_resume(ctx, **eng, id);
    return cmd_resume_all(ctx, **eng, include_failed);
  } catch (const std::exception& e) {
    return fail(ctx, exit_code::storage,
                fmt::format("internal error: {}", e.what()));
  }
}

} // namespace

result<std::unique_ptr<engine>> open_default_engine(
  const std::filesystem::path& storage) {
  return engine::open({.storage = storage, .resume_on_open = false});
}

int run_embedded_cli(const std::vector<std::string>& args, const cli_io& io,
                     const engine_factory& open_engine) {
  auto cmd = command_of(args);
  if (cmd == "resume" || cmd == "resume-all")
    return run_app_command(args, io, open_engine);
  int code = run_cli(args, io);
  bool help = !cmd && std::any_of(args.begin(), args.end(), [](auto& a) {
                return a == "--help" || a == "-h";
              });
  if (help)
    io.out << '\n' << app_commands_help << std::flush;
  return code;
}

int run_embedded_cli(int argc, const char* const* argv,
                     const engine_factory& open_engine, actor_fold fold) {
  std::vector<std::string> args{argv, argv + argc};
  cli_io io{std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1,
            ::isatty(STDERR_FILENO) == 1, std::move(fold)};
  int code = run_embedded_cli(args, io, open_engine);
  std::cout.flush();
  return code;
}

} // namespace perdure::tools
