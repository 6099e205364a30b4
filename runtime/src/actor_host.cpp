// SPDX-License-Identifier: Apache-2.0
// The engine's actor system (CAF) and its workflow actors' host: spawns
// them (workflow_actor.cpp) and passes them the engine's requests.

#include "workflow_actor.hpp"

#include <algorithm>
#include <cstdint>

namespace perdure::detail {

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

// One timer per engine instead of one per run: every `every` it asks each
// live workflow actor to look for a cancel logged by another process. (A
// delayed message per run woke the clock thread once per workflow and kept
// every finished actor alive until its timer fired.) The runs are asked in
// `slices` turns spread over the interval, by their state's address, so
// that many waiting workflows are not all checked at once. A slice is
// asked only when a tool beside the engine committed since it was asked
// (event_log::foreign_commits) or a batch committed through this log set
// a status to canceled (impl::cancels_logged), so that an engine holding
// many waiting workflows stays idle. Quits once the engine closes; the
// host's destructor stops it before the actor system.
caf::behavior cancel_checker(caf::event_based_actor* self, engine::impl* eng,
                             std::chrono::milliseconds every) {
  constexpr std::uint32_t slices = 8;
  auto turn = std::max<std::chrono::milliseconds>(every / slices,
                                                  std::chrono::milliseconds{1});
  // Per slice, the foreign commits it was last asked after (none yet).
  auto asked = std::make_shared<std::vector<std::optional<std::uint64_t>>>(
    slices);
  self->delayed_send(self, turn, tick_atom::value, std::uint32_t{0});
  return {[=](tick_atom, std::uint32_t slice) {
    std::shared_ptr<eventlog::event_log> log;
    {
      std::lock_guard guard{eng->mu};
      if (eng->closing) {
        self->quit();
        return;
      }
      log = eng->log;
    }
    // (Both only grow: their sum moves when either does.)
    auto seen = log->foreign_commits();
    if (seen)
      *seen += eng->cancels_logged->load();
    auto& last = (*asked)[slice];
    bool quiet = seen && last && *last == *seen;
    last = seen ? std::optional{*seen} : std::nullopt;
    std::vector<std::shared_ptr<run_state>> runs;
    if (!quiet) {
      std::lock_guard guard{eng->mu};
      for (auto& [id, st] : eng->live)
        if ((reinterpret_cast<std::uintptr_t>(st.get()) >> 6) % slices
            == std::uintptr_t{slice})
          runs.push_back(st);
    }
    for (auto& st : runs) {
      std::shared_ptr<caf::actor> hdl;
      {
        std::lock_guard guard{st->mu};
        hdl = std::static_pointer_cast<caf::actor>(st->actor);
      }
      if (hdl)
        self->send(*hdl, check_atom::value);
    }
    self->delayed_send(self, turn, tick_atom::value,
                       static_cast<std::uint32_t>((slice + 1) % slices));
  }};
}

class caf_host final : public actor_host {
 public:
  caf_host(engine::impl& eng, std::size_t threads) : eng_(eng) {
    // Work sharing parks idle workers on a condition variable; the default
    // work stealing polls, which steals CPU from step bodies and the log
    // writer on small machines.
    cfg_.set("scheduler.policy", caf::atom("sharing"));
    cfg_.set("scheduler.max-threads", threads);
    system_.emplace(cfg_);
    if (auto every = eng.opts.external_cancel_check; every.count() > 0) {
      checker_ = system_->spawn(cancel_checker, &eng, every);
      caf::logger::set_current_actor_system(nullptr); // see spawn_actor
    }
  }

  ~caf_host() override {
    if (checker_)
      caf::anon_send_exit(checker_, caf::exit_reason::user_shutdown);
    // The actor system's destructor waits for every actor to quit.
    system_.reset();
  }

  void spawn(std::shared_ptr<run_state> st) override {
    auto raw = st.get();
    auto hdl = spawn_actor(std::move(st), nullptr);
    std::lock_guard guard{raw->mu};
    if (!raw->done)
      raw->actor = std::make_shared<caf::actor>(std::move(hdl));
  }

  void spawn_begun(std::shared_ptr<run_state> st,
                   std::vector<dispatch> dispatches) override {
    auto raw = st.get();
    auto hdl = spawn_actor(std::move(st), &dispatches);
    std::lock_guard guard{raw->mu};
    if (!raw->done)
      raw->actor = std::make_shared<caf::actor>(std::move(hdl));
  }

  // spawn() points the calling thread's reference to a CAF logger at this
  // system's, and ~actor_system() waits until no thread holds it. Only this
  // system's own workers may keep it: a step-pool thread (a step body
  // calling run_async), a user's thread, or a worker of another actor
  // system (the user's own, the cluster's door) outlives this engine, so
  // drop it there. CAF is built without logging (CAF_LOG_LEVEL_QUIET): a
  // thread without a logger reference loses nothing.
  caf::actor spawn_actor(std::shared_ptr<run_state> st,
                         std::vector<dispatch>* begun) {
    bool own_thread = caf::logger::current_logger() == &system_->logger();
    auto hdl = spawn_workflow(*system_, std::move(st), eng_, begun);
    if (!own_thread)
      caf::logger::set_current_actor_system(nullptr);
    return hdl;
  }

  void cancel(run_state& st) override {
    if (auto hdl = handle_of(st))
      caf::anon_send(*hdl, cancel_atom::value);
  }

  void stop(run_state& st) override {
    if (auto hdl = handle_of(st))
      caf::anon_send(*hdl, stop_atom::value);
  }

  void abandon(run_state& st) override {
    if (auto hdl = handle_of(st))
      caf::anon_send(*hdl, abandon_atom::value);
  }

 private:
  static std::shared_ptr<caf::actor> handle_of(run_state& st) {
    std::lock_guard guard{st.mu};
    return std::static_pointer_cast<caf::actor>(st.actor);
  }

  engine::impl& eng_;
  caf::actor_system_config cfg_;
  std::optional<caf::actor_system> system_;
  caf::actor checker_; ///< cancel_checker; null when the check is off
};

} // namespace

std::unique_ptr<actor_host> make_actor_host(engine::impl& eng,
                                            std::size_t threads) {
  return std::make_unique<caf_host>(eng, threads);
}

} // namespace perdure::detail
