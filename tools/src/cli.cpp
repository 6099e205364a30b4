// SPDX-License-Identifier: Apache-2.0
// The command line: CLI11 parses, the cmd_* functions do the work.

#include "commands.hpp"
#include "suggest.hpp"
#include "ui.hpp"
#include "perdure/eventlog/storage_dir.hpp"
#include "perdure/eventlog/types.hpp"
#include "perdure/version.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <ostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace perdure::tools {

namespace {


constexpr const char* exit_codes_help =
  "Exit codes: 0 ok, 1 usage, 2 not found (an id, or an unknown command, "
  "status or kind), 3 damage found (verify), "
  "4 storage error, 5 refused (state conflict), 6 external tool failed.";

// Splits "a,b" lists given to options that take several values.
std::vector<std::string> split_commas(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (auto& item : in) {
    std::size_t start = 0;
    while (start <= item.size()) {
      auto comma = item.find(',', start);
      auto part = item.substr(start, comma == std::string::npos
                                       ? std::string::npos
                                       : comma - start);
      if (!part.empty())
        out.push_back(part);
      if (comma == std::string::npos)
        break;
      start = comma + 1;
    }
  }
  return out;
}

// CLI11's PositiveNumber prints the whole range of a double when it fails.
const CLI::Validator at_least_one{
  [](std::string& text) -> std::string {
    std::size_t pos = 0;
    unsigned long long v = 0;
    try {
      v = std::stoull(text, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    return pos == text.size() && v >= 1 && text.find('-') == std::string::npos
             ? std::string{}
             : "'" + text + "' is not a whole number of at least 1";
  },
  "N>=1"};

const std::vector<std::string> list_statuses = {
  "running", "resumable", "failed", "canceled", "successful"};
const std::vector<std::string> list_kinds = {"workflow", "actor", "listener",
                                             "dead_letter", "other"};

// An unknown status or kind is exit 2, naming the valid ones.
std::optional<int> reject_unknown_word(const context& ctx, const char* what,
                                       const char* plural,
                                       const std::string& word,
                                       const std::vector<std::string>& valid) {
  if (std::find(valid.begin(), valid.end(), word) != valid.end())
    return std::nullopt;
  std::string names;
  for (auto& v : valid)
    names += (names.empty() ? "" : ", ") + v;
  auto near = nearest(word, valid);
  return fail(ctx, exit_code::not_found,
              fmt::format("unknown {} '{}'{}; the {} are: {}", what, word,
                          near.empty() ? "" : " (" + did_you_mean(near) + ")",
                          plural, names));
}

} // namespace

void add_common_options(CLI::App& app, context& ctx, common_options& o,
                        const std::string& storage_help) {
  app.add_option("--storage", o.storage, storage_help)
    ->envname("PERDURE_STORAGE");
  app.add_flag("--json", ctx.json, "machine-readable JSON output");
  app.add_flag("--utc", ctx.utc, "print times in UTC instead of local time");
  app.add_flag("--no-color", o.no_color, "never colour the output");
}

std::optional<int> parse_command_line(CLI::App& app, int argc,
                                      const char* const* argv,
                                      const cli_io& io,
                                      const std::string& try_hint) {
  if (auto code = reject_unknown_command(app, argc, argv, io, try_hint))
    return code;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForVersion& e) { // --version
    io.out << e.what() << '\n' << std::flush;
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) { // --help
      io.out << app.help() << std::flush; // the chosen subcommand's help
      return 0;
    }
    io.err << "perdure: " << e.what() << " (try '" << try_hint << "')\n";
    return static_cast<int>(exit_code::usage);
  }
  return std::nullopt;
}

void finish_context(context& ctx, const common_options& o) {
  ctx.storage = o.storage.empty() ? eventlog::default_storage_dir()
                                  : std::filesystem::path{o.storage};
  const char* nc = std::getenv("NO_COLOR");
  ctx.color = ctx.io->out_tty && !o.no_color && !(nc && *nc) && !ctx.json;
}

int run_cli(int argc, const char* const* argv, const cli_io& io) {
  CLI::App app{"perdure: inspect and manage the workflows and actors stored "
               "in a perdure storage directory, beside a running engine or "
               "on a copy.",
               "perdure"};
  app.footer(exit_codes_help);
  app.set_version_flag(
    "--version",
    fmt::format("perdure {} (storage format {}, Kafka listeners {})",
                perdure::version(), eventlog::storage_format_version,
                PERDURE_HAS_KAFKA ? "built" : "not built"),
    "print perdure's version and storage format, and exit");
  app.require_subcommand(1);
  app.fallthrough();

  context ctx;
  ctx.io = &io;
  common_options common;
  add_common_options(app, ctx, common,
                     fmt::format("storage directory (default: "
                                 "$PERDURE_STORAGE, else {})",
                                 eventlog::default_storage_dir().string()));

  std::function<int()> action;

  list_args la;
  std::vector<std::string> statuses;
  auto* list = app.add_subcommand("list", "list workflows and actors");
  list->add_option("--status", statuses,
                   "only these statuses (comma separated: running, "
                   "resumable, failed, canceled, successful)");
  list->add_option("--kind", la.kind,
                   "only this kind: workflow, actor, listener, dead_letter, "
                   "other");
  list->add_option("--limit", la.limit, "print at most N")->check(at_least_one);
  list->add_option("--prefix", la.prefix, "only ids that start with P");
  list->add_option("--after", la.after, "only ids after this one (paging)");
  list->callback([&] {
    action = [&] {
      la.statuses = split_commas(statuses);
      for (auto& s : la.statuses)
        if (auto code = reject_unknown_word(ctx, "status", "statuses", s,
                                             list_statuses))
          return *code;
      if (la.kind)
        if (auto code = reject_unknown_word(ctx, "kind", "kinds", *la.kind,
                                             list_kinds))
          return *code;
      return cmd_list(ctx, la);
    };
  });

  std::string id;
  auto* show = app.add_subcommand("show", "show a workflow's or actor's "
                                          "status, metadata and steps");
  show->add_option("ID", id, "workflow or actor id")->required();
  show->callback([&] { action = [&] { return cmd_show(ctx, id); }; });

  history_args ha;
  auto* history = app.add_subcommand("history", "print every record of a "
                                                "stream, payloads as JSON");
  history->add_option("ID", ha.id, "workflow or actor id")->required();
  history->add_option("--from", ha.from, "start at this seq")
    ->check(at_least_one);
  history->add_flag("--follow,-f", ha.follow,
                    "keep printing new records until a workflow ends, "
                    "SIGINT or the timeout (with --json: one JSON object "
                    "per line)");
  history->add_option("--follow-timeout", ha.follow_timeout,
                      "stop following after this many seconds")
    ->check(CLI::NonNegativeNumber);
  history->add_option("--run", ha.run,
                      "print run N of a workflow that continued as new "
                      "(a kept earlier run, or the live one; default: "
                      "the live run)")
    ->check(at_least_one);
  history->callback([&] { action = [&] { return cmd_history(ctx, ha); }; });

  output_args oa;
  auto* output = app.add_subcommand("output", "print a workflow's output "
                                              "(or a step's) as JSON");
  output->add_option("ID", oa.id, "workflow id")->required();
  output->add_option("--step", oa.step, "the step id, e.g. get_value2");
  output->callback([&] { action = [&] { return cmd_output(ctx, oa); }; });

  replay_args ra;
  auto* replay = app.add_subcommand("replay", "rebuild a workflow's steps or "
                                              "an actor's state at a point of "
                                              "its history");
  replay->add_option("ID", ra.id, "workflow or actor id")->required();
  auto* until = replay->add_option("--until", ra.until,
                                   "replay records up to this seq");
  replay->add_option("--as-of", ra.as_of,
                     "replay records written up to this time (ISO 8601, "
                     "local unless --utc or a zone is given)")
    ->excludes(until);
  replay->callback([&] { action = [&] { return cmd_replay(ctx, ra); }; });

  graph_args ga;
  auto* graph = app.add_subcommand("graph", "print a workflow's graph "
                                            "(Graphviz dot, or SVG)");
  graph->add_option("ID", ga.id, "workflow id")->required();
  graph->add_option("--format", ga.format, "dot or svg")
    ->check(CLI::IsMember({"dot", "svg"}));
  graph->add_option("--output,-o", ga.output_file,
                    "write to this file instead of stdout");
  graph->callback([&] { action = [&] { return cmd_graph(ctx, ga); }; });

  bool no_progress = false;
  auto* verify = app.add_subcommand("verify", "check every record's checksum "
                                              "and schema and every index");
  verify->add_flag("--no-progress", no_progress, "no progress bar");
  verify->callback([&] {
    action = [&] { return cmd_verify(ctx, !no_progress && io.err_tty); };
  });

  bool dry_run = false;
  auto* recover = app.add_subcommand("recover", "settle the journal of a "
                                                "storage left open (what "
                                                "the engine's open does)");
  recover->add_flag("--dry-run", dry_run,
                    "only say what would be done; write nothing");
  recover->callback([&] { action = [&] { return cmd_recover(ctx, dry_run); }; });

  auto* stats = app.add_subcommand("stats", "streams by kind and status, "
                                            "records, storage size");
  stats->callback([&] { action = [&] { return cmd_stats(ctx); }; });

  auto* cancel = app.add_subcommand("cancel", "cancel a workflow (safe "
                                              "beside a running engine)");
  cancel->add_option("ID", id, "workflow id")->required();
  cancel->callback([&] { action = [&] { return cmd_cancel(ctx, id); }; });

  signal_args sa;
  auto* sig = app.add_subcommand("signal", "send a signal to a workflow's "
                                           "wait_for_signal (safe beside a "
                                           "running engine)");
  sig->add_option("ID", sa.id, "workflow id")->required();
  sig->add_option("NAME", sa.name, "signal name")->required();
  sig->add_option("JSON", sa.json_value,
                  "the value as JSON: 42, '\"yes\"', '{\"ok\":true}'")
    ->required();
  sig->callback([&] { action = [&] { return cmd_signal(ctx, sa); }; });

  promise_args pa;
  auto* prom = app.add_subcommand("promise", "complete or reject a durable "
                                             "promise (safe beside a running "
                                             "engine)");
  prom->require_subcommand(1);
  auto* pc = prom->add_subcommand("complete", "complete promise ID with a "
                                              "JSON value");
  pc->add_option("ID", pa.id, "promise id, NAME@WORKFLOW")->required();
  pc->add_option("JSON", pa.text, "the value as JSON: 42, '\"yes\"'")
    ->required();
  pc->callback([&] {
    pa.complete = true;
    action = [&] { return cmd_promise(ctx, pa); };
  });
  auto* pr = prom->add_subcommand("reject", "reject promise ID");
  pr->add_option("ID", pa.id, "promise id, NAME@WORKFLOW")->required();
  pr->add_option("MESSAGE", pa.text, "the reason")->required();
  pr->callback([&] {
    pa.complete = false;
    action = [&] { return cmd_promise(ctx, pa); };
  });

  auto* remove = app.add_subcommand("delete", "delete a workflow or actor "
                                              "that is not running");
  remove->add_option("ID", id, "workflow or actor id")->required();
  remove->callback([&] { action = [&] { return cmd_delete(ctx, id); }; });

  diff_args da;
  auto* diff = app.add_subcommand("diff", "how an actor's state changed "
                                          "between two seqs");
  diff->add_option("ID", da.id, "actor id")->required();
  diff->add_option("A", da.a, "the earlier seq")->required();
  diff->add_option("B", da.b, "the later seq")->required();
  diff->callback([&] { action = [&] { return cmd_diff(ctx, da); }; });

  fork_args fa;
  auto* fork = app.add_subcommand("fork", "copy an actor's first SEQ records "
                                          "into a new actor (what-if)");
  fork->add_option("ACTOR_ID", fa.id, "actor id")->required();
  fork->add_option("--at", fa.at, "the last seq to copy")->required();
  fork->add_option("--as", fa.as, "the new actor's id")->required();
  fork->callback([&] { action = [&] { return cmd_fork(ctx, fa); }; });

  auto* exp = app.add_subcommand("export", "the directory entry and every "
                                           "record as one JSON document");
  exp->add_option("ID", id, "workflow or actor id")->required();
  exp->callback([&] { action = [&] { return cmd_export(ctx, id); }; });

  auto* proj = app.add_subcommand("projection", "projections' positions "
                                               "and lag; reset one");
  proj->require_subcommand(1);
  auto* pstatus = proj->add_subcommand("status", "each projection's source, "
                                                 "position and lag");
  pstatus->callback([&] {
    action = [&] { return cmd_projection_status(ctx); };
  });
  auto* preset = proj->add_subcommand("reset", "drop a projection's rows and "
                                               "position (it rebuilds)");
  preset->add_option("NAME", id, "projection name")->required();
  preset->callback([&] {
    action = [&] { return cmd_projection_reset(ctx, id); };
  });

  auto* sched = app.add_subcommand("schedule", "schedules: list, pause, "
                                               "resume, delete");
  sched->require_subcommand(1);
  sched->add_subcommand("list", "each schedule's spec, state and last tick")
    ->callback([&] { action = [&] { return cmd_schedule_list(ctx); }; });
  static const char* const changes[][2] = {
    {"pause", "stop starting its ticks' workflows (beside an engine too)"},
    {"resume", "start them again from the next tick"},
    {"delete", "remove it and its ticks' records (not their workflows)"}};
  for (auto& [what, help] : changes) {
    auto* c = sched->add_subcommand(what, help);
    c->add_option("NAME", id, "schedule name")->required();
    c->callback([&, w = std::string{what}] {
      action = [&, w] { return cmd_schedule_change(ctx, w, id); };
    });
  }

  ui_options uo;
  auto* ui = app.add_subcommand("ui", "serve a web page of the storage's "
                                "workflows and actors (read-only)");
  ui->add_option("--listen", uo.listen, "HOST:PORT (default 127.0.0.1:8233; "
                 "port 0 picks a free one)");
  ui->add_flag("--allow-remote", uo.allow_remote,
               "allow a --listen address that is not loopback");
  ui->add_flag("--allow-writes", uo.allow_writes,
               "offer cancel and delete (POST /api/cancel, /api/delete)");
  ui->add_option("--token", uo.token, "require this token on every request "
                 "(?token= or 'Authorization: Bearer')");
  ui->add_flag("--redact", uo.redact, "hide inputs, outputs and states");
  ui->callback([&] { action = [&] { return cmd_ui(ctx, uo); }; });

  if (auto code = parse_command_line(app, argc, argv, io, "perdure --help"))
    return *code;
  finish_context(ctx, common);
  try {
    return action ? action() : static_cast<int>(exit_code::usage);
  } catch (const std::exception& e) {
    // Our code returns errors as values; this catches what the standard
    // library or the JSON library throw (out of memory, a broken pipe).
    return fail(ctx, exit_code::storage, fmt::format("internal error: {}",
                                                     e.what()));
  }
}

int run_cli(const std::vector<std::string>& args, const cli_io& io) {
  std::vector<const char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args)
    argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return run_cli(static_cast<int>(args.size()), argv.data(), io);
}

} // namespace perdure::tools
