// SPDX-License-Identifier: Apache-2.0
// workflow_run's graph: building it from a submitted graph or from logged
// node records (dynamic continuations too), resolving a step's inputs,
// and the metadata the management API reports. Events are in
// workflow_run.cpp, replay in workflow_replay.cpp.

#include "workflow_run.hpp"

#include "perdure/runtime/errors.hpp"

#include <algorithm>
#include <unordered_set>
#include <fmt/format.h>

namespace perdure::detail {

namespace rec = perdure::records;

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

// Every node `args` name, nested lists included, in order, repeats too.
void gather_nodes(const std::vector<arg_rt>& args,
                  std::vector<std::uint32_t>& out) {
  for (auto& a : args) {
    if (a.what == arg::kind::node)
      out.push_back(a.node);
    else if (a.what == arg::kind::list)
      gather_nodes(a.items, out);
  }
}

// Appends the nodes `args` name that `out` does not hold yet, each once,
// in the order of their first mention: linear in the arguments (a join
// of a fan-out takes thousands).
void collect_inputs(const std::vector<arg_rt>& args,
                    std::vector<std::uint32_t>& out) {
  std::vector<std::uint32_t> named;
  gather_nodes(args, named);
  if (named.size() + out.size() <= 16) { // the usual few: no set
    for (auto n : named)
      if (std::find(out.begin(), out.end(), n) == out.end())
        out.push_back(n);
    return;
  }
  std::unordered_set<std::uint32_t> seen(out.begin(), out.end());
  for (auto n : named)
    if (seen.insert(n).second)
      out.push_back(n);
}

effective_step_options effective(const step_def& def, const step_options& o) {
  auto m = merge_options(def.defaults, o);
  effective_step_options e;
  e.step_name = def.name;
  e.max_attempts = m.max_attempts.value_or(3);
  e.retry_backoff = m.retry_backoff.value_or(std::chrono::milliseconds{0});
  e.retry_backoff_max =
    m.retry_backoff_max.value_or(std::chrono::milliseconds{0});
  e.retry_jitter = m.retry_jitter.value_or(0);
  e.timeout = m.timeout.value_or(std::chrono::milliseconds{0});
  e.heartbeat_timeout =
    m.heartbeat_timeout.value_or(std::chrono::milliseconds{0});
  e.local = m.local.value_or(false);
  if (!e.local) { // (a local step takes none: check_options)
    e.cpus = m.resources.cpus.value_or(1);
    e.gpus = m.resources.gpus.value_or(0);
    e.custom = m.resources.custom;
  } else {
    e.cpus = 0;
  }
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
  auto discover = [&](auto& self, const std::vector<arg>& in) -> void {
    for (auto& a : in)
      if (a.what == arg::kind::node) {
        auto next = base + static_cast<std::uint32_t>(order.size());
        if (seen.emplace(a.ref.get(), next).second)
          order.push_back(a.ref.get());
      } else if (a.what == arg::kind::list) {
        self(self, a.items);
      }
  };
  for (std::size_t k = 0; k < order.size(); ++k)
    discover(discover, order[k]->args);
  // The new nodes are built in place, once: a graph of a thousand steps
  // otherwise moved every node (≈ 550 bytes) through each regrowth of two
  // vectors, into memory touched for the first time.
  if (auto need = base + order.size(); nodes_.capacity() < need)
    nodes_.reserve(std::max(need, 2 * nodes_.capacity()));
  auto capture = [&](auto& self, const std::vector<arg>& in,
                     std::vector<arg_rt>& out) -> void {
    out.reserve(in.size());
    for (auto& a : in) {
      arg_rt& r = out.emplace_back();
      r.what = a.what;
      r.bytes = a.bytes;
      if (a.what == arg::kind::node)
        r.node = seen.at(a.ref.get());
      else if (a.what == arg::kind::list)
        self(self, a.items, r.items);
    }
  };
  for (const node* at : order) {
    const node& src = *at;
    node_rt& n = nodes_.emplace_back();
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
  }
  // Check everything before changing any other state.
  for (auto i = base; i < nodes_.size(); ++i)
    if (auto st = check_capacity(nodes_[i].base, nodes_[i].opts, capacity_);
        !st) {
      nodes_.erase(nodes_.begin() + base, nodes_.end());
      return st;
    }
  std::vector<rec::node_rec> recs;
  recs.reserve(order.size());
  for (auto idx = base; idx < nodes_.size(); ++idx) {
    auto& n = nodes_[idx];
    n.id = next_id(n.base);
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
    r.backoff_max_ms = n.opts.retry_backoff_max.count();
    r.jitter = n.opts.retry_jitter;
    r.timeout_ms = n.opts.timeout.count();
    r.heartbeat_ms = n.opts.heartbeat_timeout.count();
    r.cpus = n.opts.cpus;
    r.gpus = n.opts.gpus;
    r.custom = n.opts.custom;
    r.metadata = n.user_meta;
    r.catching = n.opts.catching;
    r.local = n.opts.local;
    put_args(n.args, r.args);
    recs.push_back(std::move(r));
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
    n.opts.retry_backoff_max = std::chrono::milliseconds{r.backoff_max_ms};
    n.opts.retry_jitter = r.jitter;
    n.opts.timeout = std::chrono::milliseconds{r.timeout_ms};
    n.opts.heartbeat_timeout = std::chrono::milliseconds{r.heartbeat_ms};
    n.opts.cpus = r.cpus;
    n.opts.gpus = r.gpus;
    n.opts.custom = r.custom;
    n.opts.catching = r.catching;
    n.opts.local = r.local;
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
                     metadata_map meta, const resources& capacity,
                     std::uint32_t run) {
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
  sub.run = run;
  w->run_no_ = run;
  w->submission_ = encode_rec(sub);
  return w;
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
  m.run_number = static_cast<int>(run_no_);
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
