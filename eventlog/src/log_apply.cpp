// SPDX-License-Identifier: Apache-2.0
// event_log::apply_group: a cluster replica's group, committed by the
// calling thread as one transaction with the group's own stamp. It takes
// the commit lock as a leading submitter does (log_loops.cpp) and holds
// close_mu meanwhile, so that close() waits for it rather than finish the
// durability under it.

#include "log_impl.hpp"

#include <future>
#include <memory>

namespace perdure::eventlog {

using namespace detail;

result<std::vector<result<commit_info>>>
event_log::apply_group(std::vector<write_batch> batches, time_ns now,
                       std::string_view writer_id) {
  auto& self = *impl_;
  if (self.opts.read_only)
    return unexpected{errc::closed, "the event log is open read-only"};
  auto n = batches.size();
  auto results = std::make_shared<std::vector<result<commit_info>>>();
  auto left = std::make_shared<std::size_t>(n);
  auto mu = std::make_shared<std::mutex>();
  std::promise<void> all;
  auto fut = all.get_future();
  auto shared_all = std::make_shared<std::promise<void>>(std::move(all));
  results->assign(n, unexpected{errc::closed, "not committed"});
  bool committed = false;
  {
    std::unique_lock<std::mutex> closing{self.close_mu};
    if (self.closed || !self.dur)
      return unexpected{errc::closed, "the event log is closed"};
    if (!self.callers_commit)
      return unexpected{errc::unsupported,
                        "apply_group needs a durability that lets a caller "
                        "commit (durability::process or the journal)"};
    if (n == 0)
      return std::vector<result<commit_info>>{};
    std::vector<pending> group;
    group.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      group.push_back(
        {std::move(batches[i]),
         [results, left, mu, shared_all, i](result<commit_info> r) {
           std::lock_guard<std::mutex> g{*mu};
           (*results)[i] = std::move(r);
           if (--*left == 0)
             shared_all->set_value();
         }});
    std::lock_guard<std::mutex> commit{self.commit_mu};
    self.committer.store(std::this_thread::get_id());
    auto t0 = std::chrono::steady_clock::now();
    auto done = self.commit_group(group, committed, now, writer_id);
    ++self.commits;
    done.started = t0;
    self.dur->after_commit(std::move(done), committed);
    self.committer.store(std::thread::id{});
  }
  fut.wait();
  std::lock_guard<std::mutex> g{*mu};
  // A failure of the whole transaction is every batch's: report it once.
  if (!committed)
    return (*results)[0].as_status();
  return std::move(*results);
}

} // namespace perdure::eventlog
