// SPDX-License-Identifier: Apache-2.0
// Rebuilding a workflow from its log (resume, and reads of workflows that
// are not live), and the code check that guards a resume.

#include "workflow_run.hpp"

#include <fmt/format.h>

namespace perdure::detail {

namespace rec = perdure::records;

// -- replay --------------------------------------------------------------------

namespace {

template <class T>
result<T> decode_rec(const eventlog::record& r, const std::string& id) {
  auto v = codec::decode<T>(r.payload);
  if (!v)
    return unexpected{errc::corruption,
                      fmt::format("workflow '{}' record {}: {}", id, r.seq,
                                  v.error().message())};
  return v;
}

} // namespace

result<std::unique_ptr<workflow_run>>
workflow_run::replay(std::string id, const std::vector<eventlog::record>& log,
                     const resources& capacity) {
  std::unique_ptr<workflow_run> w{new workflow_run};
  w->id_ = std::move(id);
  w->capacity_ = capacity;
  w->fresh_ = false;
  auto bad_node = [&](const eventlog::record& r) {
    return status{errc::corruption,
                  fmt::format("workflow '{}' record {} names an unknown step",
                              w->id_, r.seq)};
  };
  for (auto& r : log) {
    switch (static_cast<rec::record_kind>(r.kind)) {
      case rec::record_kind::workflow_submitted: {
        auto v = decode_rec<rec::workflow_submitted>(r, w->id_);
        if (!v)
          return std::move(v).error();
        w->meta_ = v->metadata;
        if (auto st = w->add_records(v->nodes, -1); !st)
          return st;
        w->root_ = v->root;
        w->run_no_ = v->run;
        w->runs_ = 1;
        w->start_ = r.time;
        break;
      }
      case rec::record_kind::workflow_resumed:
        ++w->runs_;
        w->start_ = r.time;
        w->finish_.reset();
        w->error_text_.clear();
        for (auto& n : w->nodes_)
          n.attempt = 0;
        break;
      case rec::record_kind::step_started: {
        auto v = decode_rec<rec::step_started>(r, w->id_);
        if (!v)
          return std::move(v).error();
        if (v->node >= w->nodes_.size())
          return bad_node(r);
        auto& n = w->nodes_[v->node];
        n.state = step_state::running;
        n.attempt = v->attempt;
        n.attempts.push_back({.attempt = v->attempt, .start = r.time});
        break;
      }
      case rec::record_kind::timer_set: {
        auto v = decode_rec<rec::timer_set>(r, w->id_);
        if (!v)
          return std::move(v).error();
        if (v->node >= w->nodes_.size())
          return bad_node(r);
        w->nodes_[v->node].due = v->due;
        break;
      }
      case rec::record_kind::event_received:
      case rec::record_kind::step_succeeded: {
        auto v = decode_rec<rec::step_succeeded>(r, w->id_);
        if (!v)
          return std::move(v).error();
        if (v->node >= w->nodes_.size())
          return bad_node(r);
        auto& n = w->nodes_[v->node];
        n.state = step_state::succeeded;
        n.output = std::make_shared<const std::string>(
          std::move(v->output.data));
        n.end = r.time;
        if (!n.attempts.empty() && !n.attempts.back().end) {
          n.attempts.back().end = r.time;
          if (v->started > 0)
            n.attempts.back().start = v->started;
        }
        for (auto c : n.consumers)
          --w->nodes_[c].waiting;
        break;
      }
      case rec::record_kind::step_failed: {
        auto v = decode_rec<rec::step_failed>(r, w->id_);
        if (!v)
          return std::move(v).error();
        if (v->node >= w->nodes_.size())
          return bad_node(r);
        auto& n = w->nodes_[v->node];
        if (!n.attempts.empty()) {
          n.attempts.back().end = r.time;
          if (v->started > 0)
            n.attempts.back().start = v->started;
          n.attempts.back().error_type = v->error_type;
          n.attempts.back().error_text = v->error_text;
        }
        n.error_text = v->error_type + ": " + v->error_text;
        if (v->final)
          n.state = step_state::failed;
        break;
      }
      case rec::record_kind::step_continued: {
        auto v = decode_rec<rec::step_continued>(r, w->id_);
        if (!v)
          return std::move(v).error();
        if (v->node >= w->nodes_.size())
          return bad_node(r);
        auto owner = static_cast<std::int32_t>(v->node);
        if (auto st = w->add_records(v->nodes, owner); !st)
          return st;
        if (v->root >= w->nodes_.size())
          return bad_node(r);
        auto& n = w->nodes_[v->node];
        n.state = step_state::continued;
        n.continued_to = static_cast<std::int32_t>(v->root);
        w->nodes_[v->root].continued_from = owner;
        if (!n.attempts.empty()) {
          n.attempts.back().end = r.time;
          if (v->started > 0)
            n.attempts.back().start = v->started;
        }
        break;
      }
      case rec::record_kind::workflow_succeeded:
        w->finish_ = r.time;
        w->end_ = run_end::succeeded;
        break;
      case rec::record_kind::workflow_failed: {
        auto v = decode_rec<rec::workflow_ended>(r, w->id_);
        if (!v)
          return std::move(v).error();
        w->finish_ = r.time;
        w->end_ = run_end::failed;
        w->error_text_ = fmt::format("step '{}' raised {}: {}", v->step,
                                     v->error_type, v->error_text);
        break;
      }
      case rec::record_kind::workflow_canceled:
        w->end_ = run_end::canceled;
        break;
      default: break; // records of other modules are not ours to interpret
    }
  }
  if (w->nodes_.empty())
    return unexpected{errc::corruption,
                      fmt::format("workflow '{}' has no submission record",
                                  w->id_)};
  w->logged_ = log.back().seq;
  // The losers of the races that were won are canceled (nothing of theirs
  // was logged after the win).
  for (std::uint32_t i = 0; i < w->nodes_.size(); ++i)
    if (w->nodes_[i].is_race()
        && w->nodes_[i].state == step_state::succeeded)
      w->prune_losers(i, nullptr);
  return w;
}

status workflow_run::check_code() const {
  for (auto& n : nodes_) {
    bool needed = n.state != step_state::succeeded && !n.dead
                  && n.continued_to < 0;
    if (!n.def) {
      if (needed)
        return {errc::type_mismatch,
                fmt::format("workflow '{}': step '{}' (id '{}') is not "
                            "registered in this program; register it to "
                            "resume",
                            id_, n.step_name, n.id)};
      continue;
    }
    if (n.def->signature != n.signature)
      return {errc::type_mismatch,
              fmt::format("workflow '{}': step '{}' (id '{}') was logged "
                          "with signature {} but is registered as {}; "
                          "restore the old code to resume",
                          id_, n.step_name, n.id, n.signature,
                          n.def->signature)};
  }
  return {};
}

void workflow_run::prepare_resume() {
  // A node whose owner chain holds a finished node is no longer needed: a
  // catching ancestor resolved, or its output was taken already.
  for (auto& n : nodes_) {
    if (n.state == step_state::succeeded)
      continue;
    for (auto o = n.owner; o >= 0; o = nodes_[o].owner)
      if (nodes_[o].state == step_state::succeeded) {
        n.dead = true;
        break;
      }
    if (n.continued_to >= 0)
      n.state = step_state::continued;
    else
      n.state = step_state::pending;
    n.attempt = 0;
  }
}

} // namespace perdure::detail
