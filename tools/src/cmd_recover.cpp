// SPDX-License-Identifier: Apache-2.0
// recover [--dry-run]: what settling the storage's journal does, and doing
// it explicitly (the engine's open does the same; FORMAT.md "Recovery").

#include "commands.hpp"
#include "format.hpp"
#include "payload_json.hpp"

#include "perdure/eventlog/recovery.hpp"

#include <ostream>

#include <fmt/format.h>

namespace perdure::tools {

namespace {

using action = eventlog::recovery_plan::action;

std::string describe(const eventlog::recovery_plan& p) {
  switch (p.what) {
    case action::none:
      return "none: " + p.reason;
    case action::checkpoint:
      return "checkpoint: " + p.reason;
    case action::replay:
      return fmt::format("replay: {}; restore the checkpoint of transaction "
                         "{} and replay {} journaled transactions (data.mdb "
                         "is saved as data.mdb.undo until it succeeded)",
                         p.reason, p.checkpoint_txnid, p.replay);
    case action::refuse:
      return "refuse: " + p.problem.message();
  }
  return {};
}

json to_json(const eventlog::recovery_plan& p) {
  return json{{"action", std::string{eventlog::to_string(p.what)}},
              {"reason", p.reason},
              {"problem", p.problem.is_ok() ? "" : p.problem.message()},
              {"journal_file", p.journal_file},
              {"journal_version", p.journal_version},
              {"generation", p.generation},
              {"entries", p.entries},
              {"journal_end", p.journal_end},
              {"journal_end_kind", p.journal_end_kind},
              {"checkpoint_txnid", p.checkpoint_txnid},
              {"checkpoint_source", p.checkpoint_source},
              {"data_txnid", p.data_txnid},
              {"last_txnid", p.last_txnid},
              {"replay", p.replay},
              {"rebooted", p.rebooted},
              {"undo_pending", p.undo_pending}};
}

void print_plan(const context& ctx, const eventlog::recovery_plan& p) {
  auto& out = ctx.out();
  out << "storage:    " << ctx.storage.string() << '\n';
  if (!p.journal_file.empty()) {
    out << fmt::format("journal:    {} (version {}, generation {}), {} "
                       "entries up to byte {} ({}){}\n",
                       p.journal_file, p.journal_version, p.generation,
                       p.entries, p.journal_end, p.journal_end_kind,
                       p.rebooted ? ", left by another boot" : "");
  }
  if (!p.checkpoint_source.empty())
    out << fmt::format("checkpoint: transaction {} ({})\n", p.checkpoint_txnid,
                       p.checkpoint_source);
  if (p.data_txnid != 0)
    out << fmt::format("data.mdb:   transaction {}{}\n", p.data_txnid,
                       p.undo_pending
                         ? " (data.mdb.undo of an interrupted recovery is "
                           "put back first)"
                         : "");
  auto style_of = p.what == action::refuse ? style::red : style::green;
  out << "plan:       " << paint(describe(p), style_of, ctx.color) << '\n';
}

} // namespace

int cmd_recover(const context& ctx, bool dry_run) {
  std::error_code ec;
  if (!std::filesystem::exists(ctx.storage / "data.mdb", ec)
      && !std::filesystem::exists(ctx.storage / "journal-0", ec))
    return fail(ctx, exit_code::storage,
                fmt::format("no perdure storage in {} (use --storage DIR or "
                            "set PERDURE_STORAGE)",
                            ctx.storage.string()));
  if (auto pid = engine_pid(ctx.storage))
    return fail(ctx, exit_code::refused,
                fmt::format("an engine (pid {}) has {} open; it settled the "
                            "journal when it opened it",
                            *pid, ctx.storage.string()));
  auto plan = eventlog::plan_recovery(ctx.storage);
  if (!plan)
    return fail(ctx, plan.error());
  if (dry_run || plan->what == action::refuse) {
    if (ctx.json)
      ctx.out() << dump_pretty(to_json(*plan)) << '\n';
    else
      print_plan(ctx, *plan);
    return static_cast<int>(plan->what == action::refuse ? exit_code::damage
                                                         : exit_code::ok);
  }
  // The journaling owner's open carries the plan out; closing it writes a
  // clean checkpoint.
  eventlog::options o;
  o.dir = ctx.storage;
  o.writer_id = "perdure-cli";
  auto log = eventlog::event_log::open(o);
  if (!log)
    return fail(ctx, log.error());
  if (auto st = (*log)->close(); !st)
    return fail(ctx, st);
  if (ctx.json) {
    auto j = to_json(*plan);
    j["done"] = true;
    ctx.out() << dump_pretty(j) << '\n';
  } else {
    print_plan(ctx, *plan);
    ctx.out() << "done:       the journal is settled and the storage closed "
                 "cleanly\n";
  }
  return 0;
}

} // namespace perdure::tools
