// SPDX-License-Identifier: Apache-2.0
// Child workflows of another partition (engine_children.hpp): the parent's
// engine asks through its host, one try per request; the child's owner
// stores the child once, by its id.

#include "engine_children.hpp"

#include "engine_door.hpp"
#include "metadata_wire.hpp"
#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/records/child.hpp"

#include <condition_variable>
#include <deque>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <perdure/runtime/graph_bytes.hpp>
#include <thread>
#include <tuple>

namespace perdure::cluster {

namespace {

namespace rec = perdure::records;

using start_fields = std::tuple<std::string, std::string, std::string>;

// Whether a workflow's metadata names it the child of `parent`'s node
// `parent_step`.
bool child_of(const metadata_map& meta, const std::string& parent,
              const std::string& parent_step) {
  auto p = meta.find(rec::parent_key);
  auto s = meta.find(rec::parent_step_key);
  return p != meta.end() && p->second == parent && s != meta.end() &&
         s->second == parent_step;
}

class remote_children final : public remote_workflows {
 public:
  remote_children(std::shared_ptr<host_link> link, partition_map map,
                  partition_id p)
      : link_(std::move(link))
      , map_(std::move(map))
      , p_(p) {}
  ~remote_children() override {
    {
      std::lock_guard guard{hint_mutex_};
      hint_stop_ = true;
    }
    hint_cv_.notify_one();
    if (hint_thread_.joinable())
      hint_thread_.join();
  }

  void set_wake(std::function<void(const std::string&)> wake) override {
    std::lock_guard guard{hint_mutex_};
    wake_ = std::move(wake);
  }

  // The other side told this engine that its child `child` ended.
  void ended(const std::string& child) {
    std::function<void(const std::string&)> wake;
    {
      std::lock_guard guard{hint_mutex_};
      wake = wake_;
    }
    if (wake)
      wake(child);
  }

  // Child `child`, started here for `parent` (another partition's),
  // ended: tell the parent's owner, on the sender thread (one try: the
  // parent's next look sees the end anyway).
  void hint(std::string parent, std::string child) {
    std::lock_guard guard{hint_mutex_};
    if (hint_stop_)
      return;
    hints_.emplace_back(std::move(parent), std::move(child));
    if (!hint_thread_.joinable())
      hint_thread_ = std::thread{[this] { send_hints(); }};
    hint_cv_.notify_one();
  }

  bool elsewhere(std::string_view id) const override {
    return map_.partition_of(id) != p_;
  }

  perdure::status start_child(const std::string& id, const std::string& graph,
                              const std::string& parent,
                              const std::string& parent_step) override {
    auto r = once(request_kind::child_start, id, {},
                  child_start_bytes(graph, parent, parent_step));
    if (r || r.error().code() != errc::conflict)
      return r ? perdure::status{} : std::move(r).error();
    // Fails the parent's node for good: only when the child's owner shows
    // `id` is another workflow (a conflict on the way, an owner not known
    // yet, is tried again).
    auto m = once(request_kind::metadata, id, {}, {});
    auto meta = m ? decode_metadata(*m) : unexpected{m.error()};
    if (!meta)
      return {errc::busy, r.error().message() + " (not confirmed: retry)"};
    if (child_of(meta->user_metadata, parent, parent_step))
      return {};
    return std::move(r).error();
  }

  result<workflow_status> status(const std::string& id) override {
    return status_answer(once(request_kind::status, id, {}, {}));
  }

  result<std::string> output_bytes(const std::string& id) override {
    return once(request_kind::output, id, {}, {});
  }

  result<std::string> failure(const std::string& id) override {
    auto r = once(request_kind::metadata, id, {}, {});
    if (!r)
      return std::move(r).error();
    auto m = decode_metadata(*r);
    if (!m)
      return std::move(m).error();
    return std::move(m->error_text);
  }

  // A cancel comes from engine::try_cancel's caller, which hears how it
  // went: tried until the host's forward_deadline, as any request.
  perdure::status cancel(const std::string& id) override {
    auto r = tried(request_kind::cancel, id, {}, {});
    return r ? perdure::status{} : std::move(r).error();
  }

  // An actor call: its caller waits for the answer, as for a local call;
  // tried again by its key until forward_deadline (the owner applies a key
  // once).
  result<std::string> call_actor(const std::string& id,
                                 const std::string& cls,
                                 const std::string& method,
                                 const std::string& key,
                                 std::string args,
                                 const actor_call_path& waiting) override {
    return tried(request_kind::actor_call, id, method,
                 encode_actor_call(cls, key, std::move(args), waiting));
  }

  perdure::status resume(const std::string& id) override {
    auto r = once(request_kind::resume, id, {}, {});
    return r ? perdure::status{} : std::move(r).error();
  }

 private:
  // One try: the child source looks again later rather than holding its
  // thread (and every other child's look) through a failover. An owner
  // that did not answer (paused, cut off: each try waits request_timeout)
  // is not asked again for `quiet` while it still owns the partition, so
  // one pass over many children of that partition waits once, not once
  // per child.
  result<std::string> once(request_kind kind, const std::string& id,
                           std::string_view name, std::string bytes) {
    std::shared_lock guard{link_->mutex};
    if (!link_->host)
      return unexpected{errc::closed, "the node stopped"};
    auto q = map_.partition_of(id);
    auto owner = owner_of(q);
    auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard quiet_guard{quiet_mutex_};
      auto& b = silent_[q];
      if (now < b.until && b.endpoint == owner)
        return unexpected{errc::busy,
                          fmt::format("partition {}'s owner did not answer "
                                      "a moment ago (retry)",
                                      q)};
    }
    auto r =
        forward_request(*link_->host, link_->door, *link_->options, kind, id,
                        name, std::move(bytes), std::chrono::milliseconds{0});
    if (!r &&
        (r.error().code() == errc::timeout || r.error().code() == errc::io)) {
      std::lock_guard quiet_guard{quiet_mutex_};
      silent_[q] = {std::chrono::steady_clock::now() + quiet, owner};
    }
    return r;
  }

  // Tried until the host's forward_deadline, as any request.
  result<std::string> tried(request_kind kind, const std::string& id,
                            std::string_view name, std::string bytes) {
    std::shared_lock guard{link_->mutex};
    if (!link_->host)
      return unexpected{errc::closed, "the node stopped"};
    return forward_request(*link_->host, link_->door, *link_->options, kind,
                           id, name, std::move(bytes),
                           link_->options->forward_deadline);
  }

  void send_hints() {
    std::unique_lock guard{hint_mutex_};
    for (;;) {
      hint_cv_.wait(guard, [&] { return hint_stop_ || !hints_.empty(); });
      if (hint_stop_)
        return;
      auto [parent, child] = std::move(hints_.front());
      hints_.pop_front();
      guard.unlock();
      (void)once(request_kind::child_ended, parent, child, {});
      guard.lock();
    }
  }

  std::string owner_of(partition_id q) const {
    auto parts = link_->host->cluster_node().partitions();
    return q < parts.size() ? parts[q].owner_endpoint : std::string{};
  }

  static constexpr std::chrono::milliseconds quiet{1000};
  struct silence {
    std::chrono::steady_clock::time_point until{};
    std::string endpoint; ///< the owner that did not answer
  };

  std::shared_ptr<host_link> link_;
  partition_map map_;
  partition_id p_;
  std::mutex quiet_mutex_;
  std::map<partition_id, silence> silent_; ///< guarded by quiet_mutex_
  // Hints both ways (set_wake, hint), guarded by hint_mutex_.
  std::mutex hint_mutex_;
  std::condition_variable hint_cv_;
  std::function<void(const std::string&)> wake_;
  std::deque<std::pair<std::string, std::string>> hints_;
  bool hint_stop_ = false;
  std::thread hint_thread_;
};

} // namespace

std::shared_ptr<remote_workflows>
make_remote_children(std::shared_ptr<host_link> link, partition_map map,
                     partition_id p) {
  return std::make_shared<remote_children>(std::move(link), std::move(map), p);
}

void child_ended_here(engine& eng, const std::string& child) {
  if (auto* rc = dynamic_cast<remote_children*>(eng.options().remote.get()))
    rc->ended(child);
}

std::string child_start_bytes(const std::string& graph,
                              const std::string& parent,
                              const std::string& parent_step) {
  return codec::encode(start_fields{graph, parent, parent_step});
}

perdure::status start_child_here(engine& eng, const std::string& id,
                                 const std::string& bytes) {
  auto fields = codec::decode<start_fields>(bytes);
  if (!fields)
    return {errc::invalid_argument,
            "a child start does not decode: " + fields.error().message()};
  auto& [graph, parent, parent_step] = *fields;
  auto root = decode_workflow_graph(graph);
  if (!root)
    return std::move(root).error();
  new_run r;
  r.root = std::move(*root);
  r.id = id;
  // Its end is told to the parent's owner (a hint: a child resumed
  // elsewhere after a failover has none, and is seen by the parent's
  // next look).
  if (auto rc =
          std::dynamic_pointer_cast<remote_children>(eng.options().remote))
    r.on_end = [rc, parent, id](const perdure::status&) {
      rc->hint(parent, id);
    };
  r.opts.metadata = {{rec::parent_key, parent},
                     {rec::parent_step_key, parent_step}};
  std::vector<new_run> runs;
  runs.push_back(std::move(r));
  auto started =
      eng.submit_batch(std::move(runs), [](eventlog::write_batch&) {});
  // The log's refusal (another node claimed the partition since this
  // engine opened) is busy: the parent tries again on the next owner.
  // Only the check below is a conflict.
  if (!started)
    return std::move(started).error();
  if ((*started)[0])
    return {};
  // Stored or live already: a start sent again, or another workflow.
  auto m = eng.try_metadata(id);
  if (!m)
    return m.error() == errc::not_found
               ? perdure::status{errc::busy,
                                 fmt::format("child workflow '{}' is being "
                                             "started (retry)",
                                             id)}
               : m.error();
  if (!child_of(m->user_metadata, parent, parent_step))
    return {errc::conflict,
            fmt::format("workflow '{}' exists and is not a child of '{}' "
                        "(node '{}'); use another id",
                        id, parent, parent_step)};
  return {};
}

} // namespace perdure::cluster
