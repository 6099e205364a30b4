// SPDX-License-Identifier: Apache-2.0
// Shared plumbing of the commands: errors, opening the storage, engine
// liveness.

#include "storage.hpp"

#include "perdure/eventlog/records/cluster.hpp"

#include <fstream>
#include <ostream>
#include <sstream>

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace perdure::tools {

int fail(const context& ctx, exit_code code, const std::string& message) {
  ctx.err() << "perdure: " << message << '\n';
  return static_cast<int>(code);
}

exit_code exit_code_for(const status& st) {
  switch (st.code()) {
    case errc::ok: return exit_code::ok;
    case errc::not_found: return exit_code::not_found;
    case errc::conflict:
    case errc::busy:
    case errc::canceled: return exit_code::refused;
    case errc::invalid_argument: return exit_code::usage;
    default: return exit_code::storage;
  }
}

int fail(const context& ctx, const status& st) {
  auto code = exit_code_for(st);
  // A storage error says what kind it is (a full disk, a permission) when
  // it is more than a plain I/O failure; scripts get the exit code.
  if (code == exit_code::storage && st.code() != errc::io)
    return fail(ctx, code,
                fmt::format("{} ({})", st.message(), to_string(st.code())));
  return fail(ctx, code, st.message());
}

int fail_unknown_id(const context& ctx, std::string_view id) {
  return fail(ctx, exit_code::not_found,
              fmt::format("no workflow or actor '{}' in {} (try 'perdure "
                          "list')",
                          id, ctx.storage.string()));
}

namespace {

// Every failure to open is a storage error (exit 4), a missing one too: the
// "not found" exit code is for ids.
status explain_open(const context& ctx, status st) {
  if (st.code() == errc::not_found)
    return {errc::io,
            fmt::format("no perdure storage in {} (use --storage DIR or set "
                        "PERDURE_STORAGE)",
                        ctx.storage.string())};
  if (st.code() == errc::busy || st.code() == errc::invalid_argument)
    return st;
  return {st.code(), fmt::format("cannot open storage {}: {}",
                                 ctx.storage.string(), st.message())};
}

} // namespace

result<std::shared_ptr<eventlog::event_log>> open_for_reading(
  const context& ctx) {
  if (ctx.log)
    return ctx.log;
  eventlog::options o;
  o.dir = ctx.storage;
  o.read_only = true;
  auto log = eventlog::event_log::open(std::move(o));
  if (!log)
    return explain_open(ctx, log.error());
  return std::shared_ptr<eventlog::event_log>{std::move(*log)};
}

result<std::shared_ptr<eventlog::event_log>> open_for_writing(
  const context& ctx) {
  if (ctx.log)
    return ctx.log;
  std::error_code ec;
  if (!std::filesystem::exists(ctx.storage / "data.mdb", ec))
    return explain_open(ctx, {errc::not_found, "no data.mdb"});
  eventlog::options o;
  o.dir = ctx.storage;
  o.exclusive = false;
  o.writer_id = "perdure-cli";
  // A commit that succeeded but could not be recorded for recovery is a
  // success with a warning (the exit code stays 0).
  o.log = [&err = ctx.err()](eventlog::log_level level, std::string_view m) {
    err << "perdure: " << eventlog::to_string(level) << ": " << m << '\n';
  };
  // Start from the size the engine already grew the map to (LMDB keeps the
  // larger of the file's and ours), without growing a small store.
  o.initial_map_size = std::size_t{1} << 20;
  auto log = eventlog::event_log::open(std::move(o));
  if (!log)
    return explain_open(ctx, log.error());
  if (auto st = refuse_partition_store(ctx, **log); !st)
    return st;
  return std::shared_ptr<eventlog::event_log>{std::move(*log)};
}

status refuse_partition_store(const context& ctx,
                              const eventlog::event_log& log) {
  auto replica = cluster_records::is_partition_store(log);
  if (!replica)
    return explain_open(ctx, replica.error());
  if (!*replica)
    return {};
  return {errc::busy,
          fmt::format("{} is a cluster partition's store: the cluster's "
                      "Kafka log is its truth and the owning node its only "
                      "writer, so a change written here would reach no other "
                      "node and be lost at the next failover; change it "
                      "through the cluster (engine_host's try_cancel, "
                      "try_remove, try_signal, try_complete... on any node). "
                      "Reading it works as for any storage",
                      ctx.storage.string())};
}

std::optional<long> engine_pid(const std::filesystem::path& storage) {
  struct ::stat st{};
  auto lock = storage / "perdure.lock";
  if (::stat(lock.c_str(), &st) != 0)
    return std::nullopt;
  // /proc/locks lines: "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF";
  // the device is major:minor in hex, the inode in decimal.
  std::ifstream locks{"/proc/locks"};
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream in{line};
    std::string n, type, mode, access, dev_ino;
    long pid = 0;
    in >> n >> type;
    if (type == "->")
      in >> type;
    in >> mode >> access >> pid >> dev_ino;
    if (type != "FLOCK" || !in)
      continue;
    unsigned maj = 0, min = 0;
    unsigned long long ino = 0;
    if (std::sscanf(dev_ino.c_str(), "%x:%x:%llu", &maj, &min, &ino) != 3)
      continue;
    if (ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev))
      return pid;
  }
  return std::nullopt;
}

std::string shown_status(const eventlog::stream_info& info, bool engine_live) {
  if (info.kind == eventlog::stream_kind::workflow && info.status == "running"
      && !engine_live)
    return "resumable";
  return info.status;
}

int fail_kind(const context& ctx, const eventlog::stream_info& info,
              eventlog::stream_kind wanted, std::string_view command,
              exit_code code) {
  return fail(ctx, code,
              fmt::format("'{}' is a {} stream; {} works on {}s", info.id,
                          eventlog::to_string(info.kind), command,
                          eventlog::to_string(wanted)));
}

std::optional<opened> open_stream(const context& ctx, const std::string& id,
                                  int& code, const stream_request& req) {
  // Looked up before opening: a writer opened here must not be mistaken
  // for the engine.
  auto pid = engine_pid(ctx.storage);
  auto log = req.write ? open_for_writing(ctx) : open_for_reading(ctx);
  if (!log) {
    code = fail(ctx, log.error());
    return std::nullopt;
  }
  auto info = (*log)->info(id);
  if (!info && info.error() == errc::not_found && req.resolve_actor
      && id.rfind("actor/", 0) != 0)
    if (auto actor = (*log)->info("actor/" + id); actor)
      info = std::move(actor);
  if (!info) {
    code = info.error() == errc::not_found ? fail_unknown_id(ctx, id)
                                           : fail(ctx, info.error());
    return std::nullopt;
  }
  if (req.kind && info->kind != *req.kind) {
    code = fail_kind(ctx, *info, *req.kind, req.command, req.wrong_kind);
    return std::nullopt;
  }
  return opened{std::move(*log), std::move(*info), pid.has_value(), pid};
}

} // namespace perdure::tools
