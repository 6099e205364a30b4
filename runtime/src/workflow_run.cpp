// SPDX-License-Identifier: Apache-2.0
// workflow_run's events: what a begin, a step result, an event, a cancel
// or a stop writes to the log and which attempts start once it is
// durable. The graph is built in workflow_graph.cpp.

#include "workflow_run.hpp"

#include "perdure/runtime/errors.hpp"
#include "perdure/runtime/retry.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace perdure::detail {

namespace rec = perdure::records;

namespace {

std::string encode_rec(const auto& r) {
  return codec::encode(r);
}

// The start of a node's current attempt, for its result record.
time_ns started_of(const node_rt& n) {
  return n.attempts.empty() ? 0 : n.attempts.back().start;
}

} // namespace

// -- events --------------------------------------------------------------------

std::string workflow_run::stored_status() const {
  switch (end_) {
    case run_end::succeeded:
      return rec::status_string(rec::stored_status::successful);
    case run_end::failed: return rec::status_string(rec::stored_status::failed);
    case run_end::canceled:
      return rec::status_string(rec::stored_status::canceled);
    default: return rec::status_string(rec::stored_status::running);
  }
}

void workflow_run::begin(plan& p) {
  started_ = true;
  end_ = run_end::none;
  end_status_ = {};
  start_ = now_();
  finish_.reset();
  error_text_.clear();
  if (fresh_) {
    runs_ = 1;
    p.batch.create(id_, eventlog::stream_kind::workflow);
    p.batch.append(id_, rec::to_u16(rec::record_kind::workflow_submitted),
                   std::move(submission_));
    submission_.clear();
    fresh_ = false;
  } else {
    ++runs_;
    prepare_resume();
    // Events received before the crash: their sources may not have heard
    // `checkpointed` yet (at least once, documented in listeners/).
    for (std::uint32_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].is_event() && nodes_[i].state == step_state::succeeded
          && nodes_[i].continued_from < 0)
        p.checkpointed.push_back(i);
    p.batch.append(id_, rec::to_u16(rec::record_kind::workflow_resumed),
                   encode_rec(rec::workflow_ended{}));
  }
  p.batch.set_status(id_, rec::status_string(rec::stored_status::running));
  resume_races(p);
  for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
    auto& n = nodes_[i];
    if (n.state == step_state::pending && n.waiting == 0 && !n.dead
        && !n.is_race())
      start(i, 1, {}, p);
  }
}

void workflow_run::start(std::uint32_t i, int attempt,
                         std::chrono::milliseconds delay, plan& p) {
  auto& n = nodes_[i];
  n.state = step_state::running;
  n.attempt = attempt;
  n.attempts.push_back({.attempt = attempt, .start = now_()});
  p.batch.append(id_, rec::to_u16(rec::record_kind::step_started),
                 encode_rec(rec::step_started{i, n.id, attempt}));
  p.dispatches.push_back({i, attempt, delay});
}

void workflow_run::succeed(std::uint32_t i, std::string bytes, plan& p) {
  auto out = std::make_shared<const std::string>(std::move(bytes));
  for (;;) {
    auto& n = nodes_[i];
    auto t = now_();
    n.state = step_state::succeeded;
    n.output = out;
    n.end = t;
    if (!n.attempts.empty() && !n.attempts.back().end)
      n.attempts.back().end = t;
    rec::step_succeeded r;
    r.node = i;
    r.id = n.id;
    r.output.data = *out;
    r.started = started_of(n);
    // An event node's output is its event: logged once as event_received,
    // and its durable timer goes in the same batch.
    bool event = n.is_event() && n.continued_from < 0 && n.continued_to < 0;
    p.batch.append(id_, rec::to_u16(event ? rec::record_kind::event_received
                                          : rec::record_kind::step_succeeded),
                   encode_rec(r));
    if (event) {
      if (n.due)
        p.batch.remove_timer(*n.due, id_, n.id);
      p.checkpointed.push_back(i);
    }
    for (auto c : n.consumers) {
      auto& cn = nodes_[c];
      if (cn.is_race()) {
        // Logged in this batch even while stopping: the winner is fixed.
        --cn.waiting;
        if (cn.state == step_state::pending && !cn.dead
            && end_ == run_end::none)
          resolve_race(c, i, p);
        continue;
      }
      if (--cn.waiting == 0 && cn.state == step_state::pending && !cn.dead
          && end_ == run_end::none && !stopping_)
        start(c, 1, {}, p);
    }
    if (i == root_) {
      end_ = run_end::succeeded;
      finish_ = t;
      p.ends = true;
      p.batch.append(id_, rec::to_u16(rec::record_kind::workflow_succeeded),
                     encode_rec(rec::workflow_ended{}));
      p.batch.set_status(id_,
                         rec::status_string(rec::stored_status::successful));
      return;
    }
    if (n.continued_from < 0)
      return;
    auto parent = static_cast<std::uint32_t>(n.continued_from);
    auto& pn = nodes_[parent];
    if (pn.opts.catching && pn.def) {
      auto wrapped = pn.def->caught_value(*out);
      if (!wrapped) {
        fail(parent, "perdure::type_mismatch", wrapped.error().message(), p);
        return;
      }
      out = std::make_shared<const std::string>(std::move(*wrapped));
    }
    i = parent;
  }
}

void workflow_run::fail(std::uint32_t i, const std::string& type,
                        const std::string& text, plan& p) {
  for (auto j = static_cast<std::int32_t>(i); j >= 0;) {
    auto& n = nodes_[j];
    if (n.opts.catching && n.def) {
      // Everything the catching step's sub-graph still runs is moot now.
      for (auto& m : nodes_) {
        if (m.state == step_state::succeeded)
          continue;
        for (auto o = m.owner; o >= 0; o = nodes_[o].owner)
          if (o == j) {
            m.dead = true;
            break;
          }
      }
      succeed(static_cast<std::uint32_t>(j), n.def->caught_error(type, text),
              p);
      return;
    }
    n.state = step_state::failed;
    if (n.error_text.empty())
      n.error_text = type + ": " + text;
    j = n.owner;
  }
  auto& failed = nodes_[i];
  end_ = run_end::failed;
  finish_ = now_();
  error_text_ = fmt::format("step '{}' raised {}: {}", failed.id, type, text);
  end_status_ = {errc::failed, fmt::format("workflow '{}' failed: {}", id_,
                                           error_text_)};
  p.ends = true;
  drop_timers(p);
  p.batch.append(id_, rec::to_u16(rec::record_kind::workflow_failed),
                 encode_rec(rec::workflow_ended{failed.id, type, text, {}}));
  p.batch.set_status(id_, rec::status_string(rec::stored_status::failed));
}

void workflow_run::on_result(std::uint32_t i, int attempt, outcome out,
                             std::vector<std::string> blobs, plan& p,
                             time_ns body_start) {
  if (auto& n = nodes_[i]; n.dead || n.state != step_state::running || n.attempt != attempt
      || end_ == run_end::canceled)
    return; // a stale or moot result: nothing depends on it any more
  auto t = now_();
  // The attempt was logged as started when it was scheduled; its body began
  // after the retry backoff (and the wait for resources).
  if (auto& n = nodes_[i]; body_start > 0 && !n.attempts.empty())
    n.attempts.back().start = body_start;
  switch (out.what) {
    case outcome::kind::value: {
      for (auto& b : blobs)
        p.batch.put_blob(std::move(b));
      if (auto& n = nodes_[i]; n.opts.catching && n.def) {
        auto wrapped = n.def->caught_value(out.bytes);
        if (!wrapped) {
          out = outcome::failure("perdure::type_mismatch",
                                 wrapped.error().message());
          break;
        }
        out.bytes = std::move(*wrapped);
      }
      succeed(i, std::move(out.bytes), p);
      return;
    }
    case outcome::kind::graph: {
      for (auto& b : blobs)
        p.batch.put_blob(std::move(b));
      auto recs = add_graph(out.graph, static_cast<std::int32_t>(i));
      if (!recs) {
        out = outcome::failure("perdure::invalid_argument",
                               recs.error().message());
        break;
      }
      auto sub = static_cast<std::uint32_t>(nodes_.size() - recs->size());
      auto& n = nodes_[i]; // add_graph may have moved the nodes
      n.state = step_state::continued;
      n.continued_to = static_cast<std::int32_t>(sub);
      nodes_[sub].continued_from = static_cast<std::int32_t>(i);
      if (!n.attempts.empty())
        n.attempts.back().end = t;
      rec::step_continued r;
      r.node = i;
      r.id = n.id;
      r.root = sub;
      r.nodes = std::move(*recs);
      r.started = started_of(n);
      p.batch.append(id_, rec::to_u16(rec::record_kind::step_continued),
                     encode_rec(r));
      if (end_ == run_end::none && !stopping_)
        for (auto k = sub; k < nodes_.size(); ++k)
          if (nodes_[k].waiting == 0 && !nodes_[k].is_race())
            start(k, 1, {}, p);
      return;
    }
    case outcome::kind::restart: {
      if (end_ != run_end::none || stopping_)
        return; // moot: the run ended, or runs this step again on resume
      auto st = begin_continue(i, out.graph, p);
      if (!st) {
        out = outcome::failure(st.code() == errc::type_mismatch
                                 ? "perdure::type_mismatch"
                                 : "perdure::invalid_argument",
                               st.message());
        break;
      }
      for (auto& b : blobs)
        p.batch.put_blob(std::move(b));
      return;
    }
    case outcome::kind::error: break;
  }
  // The attempt failed.
  auto& n = nodes_[i];
  auto& a = n.attempts.back();
  a.end = t;
  a.error_type = out.error_type;
  a.error_text = out.error_text;
  n.error_text = out.error_type + ": " + out.error_text;
  bool last = attempt >= n.opts.max_attempts || end_ != run_end::none
              || stopping_;
  p.batch.append(id_, rec::to_u16(rec::record_kind::step_failed),
                 encode_rec(rec::step_failed{i, n.id, attempt, out.error_type,
                                             out.error_text, last,
                                             started_of(n)}));
  if (!last) {
    auto backoff = retry_delay(n.opts.retry_backoff, n.opts.retry_backoff_max,
                               n.opts.retry_jitter, attempt,
                               retry_draw(id_, n.id, attempt));
    start(i, attempt + 1, backoff, p);
    return;
  }
  if (end_ != run_end::none || stopping_) {
    n.state = step_state::failed;
    return;
  }
  fail(i, out.error_type, out.error_text, p);
}

void workflow_run::on_timeout(std::uint32_t i, int attempt, bool heartbeat,
                              plan& p) {
  auto& o = nodes_[i].opts;
  auto limit = heartbeat ? o.heartbeat_timeout : o.timeout;
  auto id = nodes_[i].id;
  auto out =
    heartbeat
      ? outcome::failure("perdure::heartbeat_timeout",
                         fmt::format("step '{}' attempt {} sent no heartbeat "
                                     "for {} ms",
                                     id, attempt, limit.count()))
      : outcome::failure("perdure::timeout",
                         fmt::format("step '{}' attempt {} ran longer than "
                                     "its timeout of {} ms",
                                     id, attempt, limit.count()));
  // A start-to-close timeout knows when the body began; a heartbeat one
  // keeps the attempt's scheduled start.
  on_result(i, attempt, std::move(out), {}, p,
            heartbeat ? 0 : now_() - limit.count() * 1'000'000);
}

void workflow_run::on_cancel(plan& p) {
  if (end_ != run_end::none)
    return;
  end_ = run_end::canceled;
  end_status_ = {errc::canceled,
                 fmt::format("workflow '{}' was canceled", id_)};
  p.ends = true;
  drop_timers(p);
  p.batch.append(id_, rec::to_u16(rec::record_kind::workflow_canceled),
                 encode_rec(rec::workflow_ended{}));
  p.batch.set_status(id_, rec::status_string(rec::stored_status::canceled));
}

bool workflow_run::on_external_cancel() {
  if (end_ != run_end::none)
    return false;
  end_ = run_end::canceled;
  finish_ = now_();
  end_status_ = {errc::canceled,
                 fmt::format("workflow '{}' was canceled by another process "
                             "(perdure cancel)",
                             id_)};
  return true;
}

void workflow_run::set_due(std::uint32_t i, time_ns due, plan& p) {
  auto& n = nodes_[i];
  n.due = due;
  p.batch.append(id_, rec::to_u16(rec::record_kind::timer_set),
                 encode_rec(rec::timer_set{i, n.id, due}));
  p.batch.put_timer(due, id_, n.id);
}

bool workflow_run::on_event(
  std::uint32_t i, int attempt, outcome out,
  const std::vector<std::pair<std::string, std::int64_t>>& offsets, plan& p) {
  if (auto& n = nodes_[i]; n.dead || n.state != step_state::running
                           || n.attempt != attempt || end_ != run_end::none
                           || stopping_)
    return false;
  for (auto& [key, value] : offsets)
    p.batch.put_offset(key, value);
  on_result(i, attempt, std::move(out), {}, p);
  return true;
}

void workflow_run::drop_timers(plan& p) {
  for (auto& n : nodes_)
    if (n.due && n.state != step_state::succeeded)
      p.batch.remove_timer(*n.due, id_, n.id);
}

void workflow_run::on_stop() {
  stopping_ = true;
  if (end_ == run_end::none)
    end_status_ = {errc::closed,
                   fmt::format("the engine stopped before workflow '{}' "
                               "finished; resume it with a new engine",
                               id_)};
}

} // namespace perdure::detail
