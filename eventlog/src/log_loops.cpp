// SPDX-License-Identifier: Apache-2.0
// Who commits: the writer thread takes groups from the commit queue,
// commits each in one transaction (log_writer.cpp) and hands it to the
// log's durability (durability.hpp), which completes it once durable.
// Where the durability allows it, a submitting thread that finds nothing
// held back commits its group itself (leveldb's leader), saving the
// hand-off to the writer and back. The commit lock orders both.

#include "log_impl.hpp"

#include <chrono>

namespace perdure::eventlog {

using namespace detail;

namespace {

// Holds the commit lock and records its owner, so that a completion run
// under it that submits again does not try to take it a second time.
class committing {
 public:
  explicit committing(event_log::impl& self) : self_(self) {
    self_.commit_mu.lock();
    self_.committer.store(std::this_thread::get_id());
    owns_ = true;
  }
  committing(event_log::impl& self, std::try_to_lock_t) : self_(self) {
    if (self_.committer.load() == std::this_thread::get_id()
        || !self_.commit_mu.try_lock())
      return;
    self_.committer.store(std::this_thread::get_id());
    owns_ = true;
  }
  ~committing() {
    if (!owns_)
      return;
    self_.committer.store(std::thread::id{});
    self_.commit_mu.unlock();
  }
  committing(const committing&) = delete;
  committing& operator=(const committing&) = delete;
  explicit operator bool() const noexcept {
    return owns_;
  }

 private:
  event_log::impl& self_;
  bool owns_ = false;
};

} // namespace

void event_log::impl::complete(done_group& group) {
  commit_ns += ns_between(group.started, std::chrono::steady_clock::now());
  for (std::size_t i = 0; i < group.done.size(); ++i)
    if (group.done[i])
      group.done[i](std::move(group.results[i]));
}

void event_log::impl::commit_taken(std::vector<pending>& batch, bool waits) {
  if (dur->commit_elsewhere(batch))
    return;
  auto t0 = std::chrono::steady_clock::now();
  bool committed = false;
  auto group = commit_group(batch, committed);
  ++commits;
  group.started = t0;
  group.waits = waits;
  dur->after_commit(std::move(group), committed);
}

bool event_log::impl::may_lead() const {
  if (!callers_commit)
    return false;
  auto me = std::this_thread::get_id();
  for (auto& t : durability_threads)
    if (t == me)
      return false;
  return true;
}

void event_log::impl::lead(bool waits) {
  if (!commit_queued(waits))
    queue.notify(); // another thread commits: the writer takes it after
}

bool event_log::impl::commit_queued(bool waits) {
  committing lock{*this, std::try_to_lock};
  if (!lock)
    return false;
  if (!dur)
    return true; // released: the writer drained the queue before it ended
  // The writer may be waiting without a deadline: if this commit gives
  // the durability one (a periodic checkpoint now due later), it must
  // wake to keep it.
  bool had_deadline = dur->deadline().has_value();
  queue.take_now(taken_buf, opts.max_batches_per_commit);
  if (taken_buf.empty())
    return true; // the writer took it, or it is held back for the writer
  ++caller_commits;
  commit_taken(taken_buf, waits);
  taken_buf.clear();
  if (!had_deadline && dur->deadline())
    queue.wake();
  return true;
}

void event_log::impl::run_writer() {
  std::vector<pending> batch;
  for (;;) {
    std::optional<std::chrono::steady_clock::time_point> until;
    if (callers_commit) {
      // Not under the lock: a writer holding it as a caller submits makes
      // that caller hand its batch over, and the writer would then keep
      // holding it at each next submission.
      until = dur->deadline();
    } else {
      committing lock{*this};
      if (queue.empty())
        dur->idle();
      until = dur->deadline();
    }
    auto seen = queue.wait(until);
    if (callers_commit)
      dur->background(); // long disk work, without the commit lock
    committing lock{*this};
    dur->tick(seen.woken);
    queue.take_now(batch, opts.max_batches_per_commit);
    if (batch.empty()) {
      if (seen.stopping)
        break;
      continue;
    }
    commit_taken(batch);
  }
  committing lock{*this};
  close_status = dur->finish();
}

} // namespace perdure::eventlog
