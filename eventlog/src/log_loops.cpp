// SPDX-License-Identifier: Apache-2.0
// The writer thread: takes groups from the commit queue, commits each in
// one transaction (log_writer.cpp) and hands it to the log's durability
// (durability.hpp), which completes it once durable.

#include "log_impl.hpp"

#include <chrono>

namespace perdure::eventlog {

using namespace detail;

void event_log::impl::complete(done_group& group) {
  commit_ns += ns_between(group.started, std::chrono::steady_clock::now());
  for (std::size_t i = 0; i < group.done.size(); ++i)
    if (group.done[i])
      group.done[i](std::move(group.results[i]));
}

void event_log::impl::run_writer() {
  std::vector<pending> batch;
  for (;;) {
    if (queue.empty())
      dur->idle();
    auto taken =
      queue.take(batch, opts.max_batches_per_commit, dur->deadline());
    dur->tick(taken.woken);
    if (batch.empty()) {
      if (taken.stopping)
        break;
      continue;
    }
    auto t0 = std::chrono::steady_clock::now();
    bool committed = false;
    auto group = commit_group(batch, committed);
    ++commits;
    group.started = t0;
    dur->after_commit(std::move(group), committed);
  }
  close_status = dur->finish();
}

} // namespace perdure::eventlog
