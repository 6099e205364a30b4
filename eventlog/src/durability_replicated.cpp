// SPDX-License-Identifier: Apache-2.0
// The replicated log's durability (options::replicator, replicator.hpp):
// the committer encodes each group taken from the queue and hands it to
// the replicator instead of committing it; the replicator's reader commits
// it here with apply_group once the replicated log returned it, and its
// report completes the group's callers. apply_group's own commits go
// through `local` (process mode or the journal) as on any replica.

#include "durability.hpp"

#include "log_impl.hpp"
#include "perdure/eventlog/group_codec.hpp"
#include "perdure/eventlog/replicator.hpp"

#include <condition_variable>
#include <fmt/format.h>
#include <map>
#include <mutex>

namespace perdure::eventlog::detail {

namespace {

// The groups handed over and not yet reported. Shared with the
// replicator's callbacks, which may come after the log closed: once
// closed, a report finds nothing and touches nothing of the log.
class handed_over {
 public:
  explicit handed_over(event_log::impl& self) : self_(self) {
  }

  std::uint64_t add(done_group g) {
    std::lock_guard<std::mutex> lock{mu_};
    auto id = next_++;
    groups_.emplace(id, std::move(g));
    return id;
  }

  // The replicator's report of group `id`.
  void report(std::uint64_t id,
              result<std::vector<result<commit_info>>> outcome) {
    done_group g;
    {
      std::lock_guard<std::mutex> lock{mu_};
      auto it = groups_.find(id);
      if (it == groups_.end())
        return; // failed with closed when the log closed
      g = std::move(it->second);
      groups_.erase(it);
      ++running_;
    }
    fill(g, std::move(outcome));
    self_.complete(g);
    std::lock_guard<std::mutex> lock{mu_};
    if (--running_ == 0)
      idle_.notify_all();
  }

  // close(): fails what is still handed over with closed and waits for
  // the reports being completed now, so that none runs after the log is
  // gone.
  void close() {
    std::map<std::uint64_t, done_group> left;
    {
      std::unique_lock<std::mutex> lock{mu_};
      left.swap(groups_);
      idle_.wait(lock, [&] { return running_ == 0; });
    }
    for (auto& [id, g] : left) {
      fill(g, unexpected{errc::closed,
                         "the event log closed before the replicated log "
                         "decided this group; it may still take effect"});
      self_.complete(g);
    }
  }

 private:
  static void fill(done_group& g,
                   result<std::vector<result<commit_info>>> outcome) {
    if (outcome && outcome->size() != g.done.size())
      outcome = unexpected{
        errc::io,
        fmt::format("the replicator reported {} results for a group of {} "
                    "batches",
                    outcome->size(), g.done.size())};
    for (std::size_t i = 0; i < g.done.size(); ++i)
      g.results.emplace_back(
        outcome ? std::move((*outcome)[i])
                : result<commit_info>{unexpected{outcome.as_status()}});
  }

  event_log::impl& self_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::map<std::uint64_t, done_group> groups_;
  std::uint64_t next_ = 1;
  std::size_t running_ = 0;
};

class replicated final : public group_durability {
 public:
  replicated(event_log::impl& self, std::unique_ptr<group_durability> local)
    : self_(self), local_(std::move(local)),
      handed_(std::make_shared<handed_over>(self)) {
  }

  bool callers_commit() const override {
    return local_->callers_commit();
  }
  std::optional<clock::time_point> deadline() const override {
    return local_->deadline();
  }
  void background() override {
    local_->background();
  }
  void tick(bool woken) override {
    local_->tick(woken);
  }
  void idle() override {
    local_->idle();
  }
  void quiesce() override {
    local_->quiesce();
  }

  // Hands the group over, as consecutive groups under the replicator's
  // size limit when it has one.
  bool commit_elsewhere(std::vector<pending>& group) override {
    auto limit = self_.opts.replicator->max_group_bytes();
    auto now = now_ns();
    auto fixed = encoded_group_size({});
    std::vector<write_batch> batches;
    done_group g;
    std::size_t size = fixed;
    auto hand_over = [&] {
      if (!batches.empty())
        replicate(now, batches, std::move(g));
      batches.clear();
      g = {};
      size = fixed;
    };
    for (auto& p : group) {
      if (limit != 0) { // sizes matter only under a limit
        auto bytes = encoded_size(p.batch);
        if (size + bytes > limit)
          hand_over();
        if (fixed + bytes > limit) {
          refuse(std::move(p.done), fixed + bytes, limit);
          continue;
        }
        size += bytes;
      }
      batches.push_back(std::move(p.batch));
      g.done.push_back(std::move(p.done));
    }
    group.clear();
    hand_over();
    return true;
  }

  // apply_group's commit of a group the replicated log returned.
  void after_commit(done_group g, bool committed) override {
    local_->after_commit(std::move(g), committed);
  }

  status finish() override {
    return local_->finish();
  }

  void stop() override {
    local_->stop();
    handed_->close();
  }

 private:
  void replicate(time_ns now, const std::vector<write_batch>& batches,
                 done_group g) {
    g.started = clock::now();
    g.results.reserve(g.done.size());
    auto bytes = encode_group(now, batches);
    auto id = handed_->add(std::move(g));
    self_.opts.replicator->replicate(
      std::move(bytes),
      [h = handed_, id](result<std::vector<result<commit_info>>> r) {
        h->report(id, std::move(r));
      });
  }

  // A batch larger than the replicated log's groups: refused alone.
  void refuse(event_log::completion done, std::size_t bytes,
              std::size_t limit) {
    done_group g;
    g.started = clock::now();
    g.done.push_back(std::move(done));
    handed_->report(
      handed_->add(std::move(g)),
      unexpected{errc::invalid_argument,
                 fmt::format("a commit of {} bytes is larger than the "
                             "replicated log's groups ({} bytes at most); "
                             "nothing of it was written",
                             bytes, limit)});
  }

  event_log::impl& self_;
  std::unique_ptr<group_durability> local_;
  std::shared_ptr<handed_over> handed_;
};

} // namespace

std::unique_ptr<group_durability>
make_replicated_durability(event_log::impl& self,
                           std::unique_ptr<group_durability> local) {
  return std::make_unique<replicated>(self, std::move(local));
}

} // namespace perdure::eventlog::detail
