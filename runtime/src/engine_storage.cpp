// SPDX-License-Identifier: Apache-2.0
// The engine's event log: opened from engine_options (its own storage
// directory), or an open log it runs on (engine_options::event_log, a
// cluster node's partition store), and how close() lets it go.

#include "engine_impl.hpp"

#include "perdure/eventlog/records/workflow.hpp"

#include <fmt/format.h>

namespace perdure::detail {

namespace {

// What every commit tells the engine: the batch-size metric, the signal
// source's wake-up, a logged cancel (for the cancel checker) and the
// user's on_write.
std::function<void(const eventlog::write_batch&)>
commit_hook(engine::impl& p, const engine_options& opts) {
  return [user = opts.on_write, sizes = p.m.batch_records,
          signals = p.signals,
          cancels = p.cancels_logged](const eventlog::write_batch& b) {
    sizes->observe(static_cast<double>(b.record_count()));
    signals->committed(b);
    static const auto canceled =
      records::status_string(records::stored_status::canceled);
    for (auto& op : b.ops())
      if (op.what == eventlog::write_batch::op::type::set_status
          && op.data == canceled) {
        cancels->fetch_add(1);
        break;
      }
    if (user)
      user(b);
  };
}

bool notes_workflows(const eventlog::event_log& log) {
  auto& feeds = log.opts().change_feeds;
  if (!feeds)
    return false;
  for (auto& f : *feeds)
    if (f.stream == records::workflow_feed_stream)
      return true;
  return false;
}

result<std::shared_ptr<eventlog::event_log>>
borrow(engine::impl& p, engine_options& opts) {
  auto log = opts.event_log;
  if (log->opts().read_only)
    return unexpected{errc::invalid_argument,
                      fmt::format("engine_options::event_log: the log on "
                                  "'{}' is open read-only",
                                  log->opts().dir.string())};
  if (opts.workflow_feed && !notes_workflows(*log))
    return unexpected{errc::invalid_argument,
                      fmt::format("engine_options::workflow_feed: the log "
                                  "on '{}' was opened without the workflow "
                                  "feed (eventlog::options::change_feeds)",
                                  log->opts().dir.string())};
  opts.storage = log->opts().dir;
  if (!log->observe_commits(commit_hook(p, opts)))
    return unexpected{errc::busy,
                      fmt::format("the log on '{}' is used by another "
                                  "engine; one engine per log",
                                  opts.storage.string())};
  return log;
}

} // namespace

result<std::shared_ptr<eventlog::event_log>>
open_engine_log(engine::impl& p, engine_options& opts) {
  if (opts.event_log)
    return borrow(p, opts);
  // The event log creates the directory (0700) and checks it is safe.
  eventlog::options lo;
  lo.dir = opts.storage;
  lo.file_mode = opts.file_mode;
  lo.map_guard = opts.map_guard;
  lo.log = opts.log;
  lo.mode = opts.durability;
  lo.sync = opts.sync;
  lo.checkpoint_interval = opts.checkpoint_interval;
  lo.writeback_interval = opts.writeback_interval;
  lo.max_map_size = opts.max_storage_size;
  lo.initial_map_size = std::min(lo.initial_map_size, lo.max_map_size);
  lo.writer_id = opts.engine_id;
  lo.change_feeds = std::vector<eventlog::change_feed>{};
  if (opts.workflow_feed)
    lo.change_feeds->push_back({std::string{records::workflow_feed_stream},
                                records::workflow_feed_kinds()});
  lo.on_commit = commit_hook(p, opts);
  auto log = eventlog::event_log::open(std::move(lo));
  if (!log) {
    if (log.error() == errc::busy)
      return unexpected{errc::busy,
                        fmt::format("storage '{}' is used by another engine "
                                    "(in this or another process); one "
                                    "engine per storage directory",
                                    opts.storage.string())};
    return std::move(log).error();
  }
  return std::shared_ptr<eventlog::event_log>(std::move(*log));
}

perdure::status close_engine_log(engine::impl& p) {
  if (!p.opts.event_log)
    return p.log->close();
  // Completions run in commit order: once this empty batch is decided,
  // every earlier write of the engine was, and none calls into it again.
  static_cast<void>(p.log->commit(eventlog::write_batch{}));
  p.log->observe_commits({});
  return {};
}

} // namespace perdure::detail
