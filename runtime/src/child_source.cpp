// SPDX-License-Identifier: Apache-2.0
// The child source (child_source.hpp). Its one thread looks at every armed
// child wait when one is armed, when a child this engine started ends, and
// every `poll`: it starts the children that are not stored yet (their
// first records, the parents' `child_started` and the parent link in each
// child's metadata in one batch per look, engine::submit_batch: a parent
// of n children waits for one durable commit, not n), resumes a stored child
// that no engine runs, and hands the wait the output of an ended one. A
// child that lives in another engine (engine_options::remote) is looked
// at by child_remote.cpp, at the pace it asks for.

#include "child_source.hpp"

#include "child_index.hpp"
#include "child_remote.hpp"

#include "engine_impl.hpp"

#include "perdure/eventlog/records/child.hpp"
#include "perdure/runtime/child.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace perdure::detail {

namespace rec = perdure::records;

namespace {

// A child to start in one look's batch, for wait `w`.
struct starting {
  event_wait* w;
  new_run run;
};

// The children one look starts, each id once.
struct start_list {
  std::vector<starting> items;
  std::unordered_set<std::string> ids;
};

class child_source_impl final
  : public event_source,
    public std::enable_shared_from_this<child_source_impl> {
 public:
  child_source_impl(engine::impl& eng, std::chrono::milliseconds poll)
    : eng_(eng),
      poll_(poll.count() > 0 ? std::min(poll, std::chrono::milliseconds{100})
                             : std::chrono::milliseconds{100}) {
  }
  ~child_source_impl() override {
    stop();
  }

  void arm(std::shared_ptr<event_wait> w) override {
    std::lock_guard guard{mu_};
    if (stopped_)
      return;
    ++parent_waits_[w->workflow];
    waits_.push_back(std::move(w));
    kick_ = true;
    if (!thread_.joinable() && eng_.opts.remote)
      eng_.opts.remote->set_wake(
        [self = weak_from_this()](const std::string& child) {
          if (auto s = self.lock())
            s->ended_elsewhere(child);
        });
    if (!thread_.joinable())
      thread_ = std::thread{[this] {
        eventlog::set_thread_name("perdure-child");
        loop();
      }};
    cv_.notify_one();
  }

  void stop() override {
    {
      std::lock_guard guard{mu_};
      stopped_ = true;
      waits_.clear();
      parent_waits_.clear();
    }
    cv_.notify_one();
    if (!thread_.joinable())
      return;
    if (thread_.get_id() == std::this_thread::get_id())
      thread_.detach(); // the last reference went on the thread: it ends
    else
      thread_.join();
  }

  void kick() {
    std::lock_guard guard{mu_};
    kick_ = true;
    cv_.notify_one();
  }

  // A remote child ended (a hint from where it lives): look at it now.
  void ended_elsewhere(const std::string& child) {
    std::lock_guard guard{mu_};
    woken_.push_back(child);
    kick_ = true;
    cv_.notify_one();
  }

 private:
  void loop() {
    std::unique_lock guard{mu_};
    while (!stopped_) {
      kick_ = false;
      auto ws = waits_;
      auto woken = std::exchange(woken_, {});
      guard.unlock();
      for (auto& [w, r] : remote_)
        if (std::find(woken.begin(), woken.end(), r.child) != woken.end())
          r.next_look = {};
      std::vector<event_wait*> over;
      start_list starts;
      auto now = std::chrono::steady_clock::now();
      auto wake = now + poll_;
      for (auto& w : ws) {
        if (w->dropped->load()) {
          over.push_back(w.get());
          continue;
        }
        // A remote child is looked at when its pause is over, not on
        // every kick (a local child's end).
        auto r = remote_.find(w.get());
        if (r != remote_.end() && r->second.next_look > now) {
          wake = std::min(wake, r->second.next_look);
          continue;
        }
        if (look(*w, starts))
          over.push_back(w.get());
        else if (r = remote_.find(w.get()); r != remote_.end())
          wake = std::min(wake, r->second.next_look);
      }
      if (auto* eng = eng_.blobs->owner.load();
          eng && !starts.items.empty())
        start_all(*eng, starts.items, over);
      guard.lock();
      std::erase_if(waits_, [&](auto& w) {
        return std::find(over.begin(), over.end(), w.get()) != over.end();
      });
      for (auto* w : over) {
        remote_.erase(w);
        // A parent with no wait left here: its children are not asked for.
        auto n = parent_waits_.find(w->workflow);
        if (n != parent_waits_.end() && --n->second == 0) {
          kids_.forget(w->workflow);
          parent_waits_.erase(n);
        }
      }
      if (!stopped_ && !kick_)
        cv_.wait_until(guard, wake, [&] { return stopped_ || kick_; });
    }
  }

  // Looks at one wait; true once it was handed its outcome. A child not
  // stored yet joins `starts`.
  bool look(event_wait& w, start_list& starts) {
    auto* eng = eng_.blobs->owner.load();
    if (!eng || w.inputs.size() != 2)
      return w.inputs.size() != 2 && fail(w, "perdure::corruption",
                                          "a child node needs 2 inputs");
    auto id = decode_value<std::string>(w.inputs[0].bytes);
    if (!id)
      return fail(w, "perdure::corruption", id.error().message());
    if (auto& remote = eng->options().remote;
        remote && remote->elsewhere(*id)) {
      auto& s = remote_[&w];
      s.child = *id;
      return look_remote(*eng, *remote, w, *id, s, kids_);
    }
    auto st = eng->try_status(*id);
    if (!st && st.error() == errc::not_found)
      return to_start(w, *id, starts);
    if (!st)
      return false; // closing, or a read failed: look again
    if (!linked(w, *id))
      return fail(w, "perdure::conflict",
                  fmt::format("workflow '{}' exists and is not a child of "
                              "'{}' (node '{}'); use another id",
                              *id, w.workflow, w.step));
    switch (*st) {
      case workflow_status::successful: {
        auto out = eng->output_bytes(*id, {});
        if (!out)
          return false;
        std::vector<input> in(1);
        in[0].bytes = std::move(*out);
        w.deliver(w.def->invoke(in), {});
        return true;
      }
      case workflow_status::failed: {
        auto m = eng->try_metadata(*id);
        return fail(w, "perdure::workflow_failed",
                    fmt::format("child workflow '{}' failed: {}", *id,
                                m ? m->error_text : m.error().message()));
      }
      case workflow_status::canceled:
        return fail(w, "perdure::workflow_canceled",
                    fmt::format("child workflow '{}' was canceled", *id));
      case workflow_status::resumable:
        // A crash stopped it with its parent: run it on here.
        (void) eng->try_resume(*id);
        return false;
      case workflow_status::running: return false;
    }
    return false;
  }

  bool fail(event_wait& w, std::string type, std::string text) {
    w.deliver(outcome::failure(std::move(type), std::move(text)), {});
    return true;
  }

  // Whether `id` is the child of w's parent node (its children stream,
  // read until it says yes once).
  bool linked(event_wait& w, const std::string& id) {
    auto yes = kids_.has(*eng_.log, w.workflow, w.step, id);
    return !yes || *yes; // cannot tell now: a later look will
  }

  // Readies the start of child `id` of `w` for this look's batch (false:
  // look again once it is stored), or fails `w` (true) for a graph that
  // cannot be read. A child two waits name starts once.
  bool to_start(event_wait& w, const std::string& id, start_list& starts) {
    if (starts.ids.contains(id))
      return false;
    auto graph = decode_value<std::string>(w.inputs[1].bytes);
    if (!graph)
      return fail(w, "perdure::corruption", graph.error().message());
    auto root = decode_child_graph(*graph);
    if (!root)
      return fail(w, root.error() == errc::not_found ? "perdure::not_found"
                                                      : "perdure::corruption",
                  root.error().message());
    new_run r;
    r.root = std::move(*root);
    r.id = id;
    r.opts.metadata = {{rec::parent_key, w.workflow},
                       {rec::parent_step_key, w.step}};
    r.on_end = [self = weak_from_this()](const status&) {
      if (auto s = self.lock())
        s->kick();
    };
    starts.ids.insert(id);
    starts.items.push_back({&w, std::move(r)});
    return false;
  }

  // Starts `starts` in batches of up to max_start_batch; the waits that
  // failed go to `over`. A batch that fails (but for `closed`: the engine
  // is closing, nothing starts) is tried again one child at a time, so
  // that only the child at fault fails.
  void start_all(engine& eng, std::vector<starting>& starts,
                 std::vector<event_wait*>& over) {
    constexpr std::size_t max_start_batch = 256;
    for (std::size_t from = 0; from < starts.size();
         from += max_start_batch) {
      std::span chunk{starts.data() + from,
                      std::min(max_start_batch, starts.size() - from)};
      auto st = start_batch(eng, chunk);
      if (st || st.code() == errc::closed)
        continue;
      for (auto& one : chunk) {
        if (chunk.size() > 1)
          st = start_batch(eng, {&one, 1});
        if (!st && st.code() != errc::closed
            && fail(*one.w,
                    "perdure::" + std::string{to_string(st.code())},
                    fmt::format("cannot start child workflow '{}': {}",
                                one.run.id, st.message())))
          over.push_back(one.w);
      }
    }
    kick(); // look at them again (they may have ended already)
  }

  // One durable batch: the children's first records and their parents'
  // child_started; on failure nothing of it is stored.
  status start_batch(engine& eng, std::span<starting> chunk) {
    std::vector<new_run> runs;
    runs.reserve(chunk.size());
    for (auto& s : chunk)
      runs.push_back(s.run); // (kept for a retry one at a time)
    auto started = eng.submit_batch(
      std::move(runs), [&](eventlog::write_batch& b) {
        for (auto& s : chunk)
          b.append(rec::children_stream(s.w->workflow),
                   rec::child_started_kind,
                   codec::encode(rec::child_started{s.w->workflow, s.w->step,
                                                    s.run.id}));
      });
    if (!started)
      return started.error();
    for (auto& s : chunk)
      kids_.add(s.w->workflow, s.w->step, s.run.id);
    // A parent canceled while its children started: engine::try_cancel
    // read the children before these were stored, so cancel them here.
    std::unordered_map<std::string, bool> canceled;
    for (auto& s : chunk) {
      auto [it, fresh] = canceled.try_emplace(s.w->workflow, false);
      if (fresh) {
        auto p = eng.try_status(s.w->workflow);
        it->second = p && *p == workflow_status::canceled;
      }
      if (it->second)
        (void) eng.try_cancel(s.run.id);
    }
    return {};
  }

  engine::impl& eng_;
  std::chrono::milliseconds poll_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<event_wait>> waits_; ///< guarded by mu_
  /// How many of waits_ each parent has; guarded by mu_.
  std::unordered_map<std::string, std::size_t> parent_waits_;
  bool kick_ = false;                              ///< guarded by mu_
  std::vector<std::string> woken_; ///< remote children ended; by mu_
  bool stopped_ = false;                           ///< guarded by mu_
  std::thread thread_;
  /// The children streams of the parents waiting here (the source
  /// thread's only).
  children_index kids_;
  /// Waits whose child lives elsewhere (the source thread's only).
  std::unordered_map<const event_wait*, remote_child_wait> remote_;
};

} // namespace

std::shared_ptr<event_source> make_child_source(
  engine::impl& eng, std::chrono::milliseconds poll) {
  return std::make_shared<child_source_impl>(eng, poll);
}

namespace {

// Asks the owners of `ids` (children in other partitions) to cancel them,
// up to 16 at once on threads of their own and the caller's: each ask may
// wait out a failover of its partition (the host's forward_deadline), and
// one partition must not hold up the others' children. The first error
// other than not_found (a child not stored yet sees its parent canceled
// once started: child_remote.cpp).
status cancel_remote(remote_workflows& remote,
                     const std::vector<std::string>& ids) {
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  status first;
  auto work = [&] {
    for (auto i = next++; i < ids.size(); i = next++) {
      auto st = remote.cancel(ids[i]);
      std::lock_guard guard{mutex};
      if (!st && st.code() != errc::not_found && first)
        first = st;
    }
  };
  std::vector<std::thread> helpers;
  for (std::size_t i = 1; i < std::min<std::size_t>(ids.size(), 16); ++i)
    helpers.emplace_back(work);
  work();
  for (auto& t : helpers)
    t.join();
  return first;
}

} // namespace

status cancel_children(engine& eng, std::string_view parent) {
  auto kids = rec::read_children(*eng.event_log(), parent);
  if (!kids)
    return kids.error();
  status first;
  auto& remote = eng.options().remote;
  std::vector<std::string> elsewhere;
  for (auto& c : *kids) {
    if (remote && remote->elsewhere(c.child)) {
      elsewhere.push_back(c.child);
      continue;
    }
    auto st = eng.try_status(c.child);
    if (!st || (*st != workflow_status::running
                && *st != workflow_status::resumable))
      continue;
    if (auto s = eng.try_cancel(c.child); !s && first)
      first = s;
  }
  if (!elsewhere.empty())
    if (auto st = cancel_remote(*remote, elsewhere); !st && first)
      first = st;
  return first;
}

} // namespace perdure::detail
