// SPDX-License-Identifier: Apache-2.0
#include "workflow_run.hpp"

#include "perdure/runtime/errors.hpp"

#include <algorithm>
#include <deque>
#include <fmt/format.h>

namespace perdure::detail {

namespace rec = perdure::records;
using eventlog::now_ns;

namespace {

std::string encode_rec(const auto& r) {
  return codec::encode(r);
}

void put_args(const std::vector<arg_rt>& args,
              std::vector<rec::arg_rec>& out) {
  for (auto& a : args) {
    rec::arg_rec r;
    r.kind = static_cast<std::uint8_t>(a.what);
    switch (a.what) {
      case arg::kind::value: r.value.data = a.bytes; break;
      case arg::kind::blob: r.key = a.bytes; break;
      case arg::kind::node: r.node = a.node; break;
      case arg::kind::list:
        r.count = static_cast<std::uint32_t>(a.items.size());
        break;
    }
    out.push_back(std::move(r));
    if (a.what == arg::kind::list)
      put_args(a.items, out);
  }
}

// Parses `count` preorder entries starting at `pos`.
status get_args(const std::vector<rec::arg_rec>& in, std::size_t& pos,
                std::size_t count, std::size_t node_count,
                std::vector<arg_rt>& out) {
  for (std::size_t k = 0; k < count; ++k) {
    if (pos >= in.size())
      return {errc::corruption, "argument list ends early"};
    auto& r = in[pos++];
    arg_rt a;
    a.what = static_cast<arg::kind>(r.kind);
    switch (a.what) {
      case arg::kind::value: a.bytes = r.value.data; break;
      case arg::kind::blob: a.bytes = r.key; break;
      case arg::kind::node:
        if (r.node >= node_count)
          return {errc::corruption, "argument names an unknown node"};
        a.node = r.node;
        break;
      case arg::kind::list:
        if (auto st = get_args(in, pos, r.count, node_count, a.items); !st)
          return st;
        break;
      default: return {errc::corruption, "unknown argument kind"};
    }
    out.push_back(std::move(a));
  }
  return {};
}

// The start of a node's current attempt, for its result record.
time_ns started_of(const node_rt& n) {
  return n.attempts.empty() ? 0 : n.attempts.back().start;
}

void collect_inputs(const std::vector<arg_rt>& args,
                    std::vector<std::uint32_t>& out) {
  for (auto& a : args) {
    if (a.what == arg::kind::node
        && std::find(out.begin(), out.end(), a.node) == out.end())
      out.push_back(a.node);
    else if (a.what == arg::kind::list)
      collect_inputs(a.items, out);
  }
}

effective_step_options effective(const step_def& def, const step_options& o) {
  auto m = merge_options(def.defaults, o);
  effective_step_options e;
  e.step_name = def.name;
  e.max_attempts = m.max_attempts.value_or(3);
  e.retry_backoff = m.retry_backoff.value_or(std::chrono::milliseconds{0});
  e.cpus = m.resources.cpus.value_or(1);
  e.gpus = m.resources.gpus.value_or(0);
  e.custom = m.resources.custom;
  return e;
}

status check_capacity(const std::string& id, const effective_step_options& o,
                      const resources& cap) {
  auto too_big = [&](const char* what, double need, double have) {
    return status{errc::invalid_argument,
                  fmt::format("step '{}' needs {}={} but the engine has {}; "
                              "it can never run",
                              id, what, need, have)};
  };
  if (o.cpus > cap.cpus.value_or(0))
    return too_big("cpus", o.cpus, cap.cpus.value_or(0));
  if (o.gpus > cap.gpus.value_or(0))
    return too_big("gpus", o.gpus, cap.gpus.value_or(0));
  for (auto& [name, need] : o.custom) {
    auto i = cap.custom.find(name);
    double have = i == cap.custom.end() ? 0 : i->second;
    if (need > have)
      return too_big(name.c_str(), need, have);
  }
  return {};
}

} // namespace

std::string signature_hash(std::string_view signature) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : signature) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

// -- building ------------------------------------------------------------------

std::string workflow_run::next_id(const std::string& base) {
  auto& n = counters_[base];
  for (;; ++n) {
    auto id = n == 0 ? base : fmt::format("{}_{}", base, n);
    if (!by_id_.contains(id)) {
      ++n;
      return id;
    }
  }
}

void workflow_run::link(std::uint32_t i) {
  auto& n = nodes_[i];
  collect_inputs(n.args, n.inputs);
  n.waiting = 0;
  for (auto in : n.inputs) {
    nodes_[in].consumers.push_back(i);
    if (nodes_[in].state != step_state::succeeded)
      ++n.waiting;
  }
}

result<std::vector<rec::node_rec>>
workflow_run::add_graph(const std::shared_ptr<node>& root, std::int32_t owner) {
  // Breadth-first from the output node: ids and indices follow discovery
  // order, so `outer(inner())` names the outer call `f` and the inner `f_1`.
  const auto base = static_cast<std::uint32_t>(nodes_.size());
  std::unordered_map<const node*, std::uint32_t> seen;
  std::vector<const node*> order{root.get()};
  seen.emplace(root.get(), base);
  std::vector<node_rt> added;
  std::vector<rec::node_rec> recs;
  auto capture = [&](auto& self, const std::vector<arg>& in,
                     std::vector<arg_rt>& out) -> void {
    for (auto& a : in) {
      arg_rt r;
      r.what = a.what;
      r.bytes = a.bytes;
      if (a.what == arg::kind::node) {
        auto [it, fresh] = seen.emplace(
          a.ref.get(), base + static_cast<std::uint32_t>(order.size()));
        if (fresh)
          order.push_back(a.ref.get());
        r.node = it->second;
      } else if (a.what == arg::kind::list) {
        self(self, a.items, r.items);
      }
      out.push_back(std::move(r));
    }
  };
  for (std::size_t k = 0; k < order.size(); ++k) {
    const node& src = *order[k];
    node_rt n;
    n.def = src.def;
    n.step_name = src.def->name;
    n.signature = src.def->signature;
    auto merged = merge_options(src.def->defaults, src.opts);
    // The id's base: the per-call name, else the step's default name, else
    // the registered name. Code is found by the registered name (node_rec
    // `step`), so a custom base never breaks a resume.
    n.base = merged.name.empty() ? src.def->name : merged.name;
    n.opts = effective(*src.def, src.opts);
    n.opts.catching = src.catching;
    n.user_meta = std::move(merged.metadata);
    n.owner = owner;
    capture(capture, src.args, n.args);
    added.push_back(std::move(n));
  }
  // Check everything before changing any state.
  for (auto& n : added)
    if (auto st = check_capacity(n.base, n.opts, capacity_); !st)
      return st;
  for (auto& n : added) {
    n.id = next_id(n.base);
    auto idx = static_cast<std::uint32_t>(nodes_.size());
    by_id_.emplace(n.id, idx);
    rec::node_rec r;
    r.index = idx;
    r.id = n.id;
    r.name = n.base;
    r.step = n.step_name;
    r.signature = n.signature;
    r.sig_hash = signature_hash(n.signature);
    r.max_attempts = n.opts.max_attempts;
    r.backoff_ms = n.opts.retry_backoff.count();
    r.cpus = n.opts.cpus;
    r.gpus = n.opts.gpus;
    r.custom = n.opts.custom;
    r.metadata = n.user_meta;
    r.catching = n.opts.catching;
    put_args(n.args, r.args);
    recs.push_back(std::move(r));
    nodes_.push_back(std::move(n));
  }
  for (auto i = base; i < nodes_.size(); ++i)
    link(i);
  return recs;
}

status workflow_run::add_records(const std::vector<rec::node_rec>& recs,
                                 std::int32_t owner) {
  const auto base = nodes_.size();
  const auto total = base + recs.size();
  for (std::size_t k = 0; k < recs.size(); ++k) {
    auto& r = recs[k];
    if (r.index != base + k)
      return {errc::corruption, fmt::format("node index {} out of order",
                                            r.index)};
    node_rt n;
    n.id = r.id;
    n.base = r.name;
    n.step_name = r.step;
    n.signature = r.signature;
    n.def = find_step(r.step);
    n.opts.step_name = r.step;
    n.opts.max_attempts = r.max_attempts;
    n.opts.retry_backoff = std::chrono::milliseconds{r.backoff_ms};
    n.opts.cpus = r.cpus;
    n.opts.gpus = r.gpus;
    n.opts.custom = r.custom;
    n.opts.catching = r.catching;
    n.user_meta = r.metadata;
    n.owner = owner;
    for (std::size_t pos = 0; pos < r.args.size();)
      if (auto st = get_args(r.args, pos, 1, total, n.args); !st)
        return st;
    by_id_.emplace(n.id, static_cast<std::uint32_t>(nodes_.size()));
    ++counters_[n.base];
    nodes_.push_back(std::move(n));
  }
  for (auto i = base; i < nodes_.size(); ++i)
    link(static_cast<std::uint32_t>(i));
  return {};
}

result<std::unique_ptr<workflow_run>>
workflow_run::create(std::string id, const std::shared_ptr<node>& root,
                     metadata_map meta, const resources& capacity) {
  std::unique_ptr<workflow_run> w{new workflow_run};
  w->id_ = std::move(id);
  w->capacity_ = capacity;
  w->meta_ = std::move(meta);
  auto recs = w->add_graph(root, -1);
  if (!recs)
    return std::move(recs).error();
  w->root_ = 0;
  w->fresh_ = true;
  // Kept for begin(): the submission record carries the whole graph.
  rec::workflow_submitted sub;
  sub.metadata = w->meta_;
  sub.root = 0;
  sub.nodes = std::move(*recs);
  w->submission_ = encode_rec(sub);
  return w;
}

// -- events --------------------------------------------------------------------

std::string workflow_run::stored_status() const {
  switch (end_) {
    case run_end::succeeded: return "successful";
    case run_end::failed: return "failed";
    case run_end::canceled: return "canceled";
    default: return "running";
  }
}

void workflow_run::begin(plan& p) {
  started_ = true;
  end_ = run_end::none;
  end_status_ = {};
  start_ = now_ns();
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
  for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
    auto& n = nodes_[i];
    if (n.state == step_state::pending && n.waiting == 0 && !n.dead)
      start(i, 1, {}, p);
  }
}

void workflow_run::start(std::uint32_t i, int attempt,
                         std::chrono::milliseconds delay, plan& p) {
  auto& n = nodes_[i];
  n.state = step_state::running;
  n.attempt = attempt;
  n.attempts.push_back({.attempt = attempt, .start = now_ns()});
  p.batch.append(id_, rec::to_u16(rec::record_kind::step_started),
                 encode_rec(rec::step_started{i, n.id, attempt}));
  p.dispatches.push_back({i, attempt, delay});
}

void workflow_run::succeed(std::uint32_t i, std::string bytes, plan& p) {
  auto out = std::make_shared<const std::string>(std::move(bytes));
  for (;;) {
    auto& n = nodes_[i];
    auto t = now_ns();
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
  finish_ = now_ns();
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
  auto t = now_ns();
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
          if (nodes_[k].waiting == 0)
            start(k, 1, {}, p);
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
    auto backoff = n.opts.retry_backoff * (1 << std::min(attempt - 1, 16));
    start(i, attempt + 1, backoff, p);
    return;
  }
  if (end_ != run_end::none || stopping_) {
    n.state = step_state::failed;
    return;
  }
  fail(i, out.error_type, out.error_text, p);
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
  finish_ = now_ns();
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

result<std::vector<input>> workflow_run::inputs_of(std::uint32_t i,
                                                   blob_source& blobs) const {
  std::vector<input> out;
  status err;
  auto resolve = [&](auto& self, const arg_rt& a) -> input {
    input in;
    switch (a.what) {
      case arg::kind::value: in.bytes = a.bytes; break;
      case arg::kind::node: in.bytes = *nodes_[a.node].output; break;
      case arg::kind::blob: {
        auto st = blobs.with_blob(a.bytes, [&](std::string_view b) {
          in.bytes.assign(b);
        });
        if (!st && err)
          err = st;
        break;
      }
      case arg::kind::list:
        in.is_list = true;
        for (auto& item : a.items)
          in.items.push_back(self(self, item));
        break;
    }
    return in;
  };
  for (auto& a : nodes_[i].args)
    out.push_back(resolve(resolve, a));
  if (!err)
    return err;
  return out;
}

std::optional<std::uint32_t> workflow_run::find(std::string_view step) const {
  auto i = by_id_.find(std::string{step});
  if (i == by_id_.end())
    return std::nullopt;
  return i->second;
}

// -- metadata ------------------------------------------------------------------

workflow_metadata workflow_run::metadata(workflow_status st) const {
  workflow_metadata m;
  m.id = id_;
  m.status = st;
  m.user_metadata = meta_;
  m.start = start_;
  m.end = finish_;
  m.runs = runs_;
  m.steps = nodes_.size();
  m.error_text = error_text_;
  for (auto& n : nodes_) {
    m.attempts += static_cast<int>(n.attempts.size());
    if (n.state == step_state::succeeded)
      ++m.steps_succeeded;
  }
  return m;
}

result<step_metadata> workflow_run::step_meta(std::string_view step) const {
  auto i = find(step);
  if (!i)
    return unexpected{errc::not_found,
                      fmt::format("workflow '{}' has no step '{}'", id_,
                                  step)};
  auto& n = nodes_[*i];
  step_metadata m;
  m.id = n.id;
  m.options = n.opts;
  m.user_metadata = n.user_meta;
  m.state = n.state;
  m.attempts = n.attempts;
  if (!n.attempts.empty())
    m.start = n.attempts.front().start;
  m.end = n.end;
  m.error_text = n.error_text;
  return m;
}

} // namespace perdure::detail
