// SPDX-License-Identifier: Apache-2.0
// The durabilities without a thread of their own: at once (process mode,
// per-commit LMDB syncs, a non-exclusive writer's full sync) and pipelined
// (sync_policy::pipelined: MDB_NOMETASYNC, a group held until the next
// commit's fdatasync or an explicit sync makes its meta page durable).

#include "durability.hpp"

#include "log_impl.hpp"

namespace perdure::eventlog::detail {

namespace {

class at_once final : public group_durability {
 public:
  explicit at_once(event_log::impl& self)
    : self_(self), anywhere_(self.opts.mode == eventlog::durability::process) {
  }
  // Process mode syncs nothing: a caller's commit is as quick as the
  // writer's. With LMDB's sync inside the commit, only the writer waits.
  bool callers_commit() const override {
    return anywhere_;
  }
  void after_commit(done_group g, bool) override {
    self_.complete(g);
  }
  status finish() override {
    return {};
  }

 private:
  event_log::impl& self_;
  const bool anywhere_;
};

class pipelined final : public group_durability {
 public:
  explicit pipelined(event_log::impl& self) : self_(self) {
  }
  void idle() override {
    sync_held();
  }
  void after_commit(done_group g, bool committed) override {
    if (held_) {
      // This commit's fdatasync flushed the held group's meta page;
      // without a commit, sync explicitly.
      if (committed) {
        self_.complete(*held_);
        held_.reset();
      } else {
        sync_held();
      }
    }
    if (committed)
      held_ = std::move(g);
    else
      self_.complete(g);
  }
  status finish() override {
    sync_held();
    return {};
  }

 private:
  // Makes the held group durable with one fdatasync and completes it.
  void sync_held() {
    if (!held_)
      return;
    if (int rc = mdb_env_sync(self_.env, 1); rc != MDB_SUCCESS) {
      auto failure = from_mdb(rc, "mdb_env_sync");
      for (auto& r : held_->results)
        if (r)
          r = unexpected{failure};
    }
    ++self_.syncs;
    self_.complete(*held_);
    held_.reset();
  }

  event_log::impl& self_;
  std::optional<done_group> held_;
};

} // namespace

namespace {

std::unique_ptr<group_durability> make_local(event_log::impl& self) {
  if (self.journaled)
    return make_journal_durability(self);
  if (self.opts.mode == eventlog::durability::sync
      && self.opts.sync == sync_policy::pipelined)
    return std::make_unique<pipelined>(self);
  return std::make_unique<at_once>(self);
}

} // namespace

std::unique_ptr<group_durability> make_durability(event_log::impl& self) {
  auto local = make_local(self);
  if (self.opts.replicator)
    return make_replicated_durability(self, std::move(local));
  return local;
}

} // namespace perdure::eventlog::detail
