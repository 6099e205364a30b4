// SPDX-License-Identifier: Apache-2.0
// A child workflow's graph as its parent logs it (records::child_graph, the
// child node's second argument): encoded when the parent's graph is built,
// decoded by the child source when it starts the child. Per-call options
// are kept as given, so the child's steps get the same ids and options as
// if the graph were run directly.

#include "child_source.hpp"

#include "perdure/eventlog/records/child.hpp"
#include "perdure/runtime/errors.hpp"
#include "perdure/runtime/graph_bytes.hpp"

#include <fmt/format.h>

#include <unordered_map>

namespace perdure::detail {

namespace rec = perdure::records;

std::string encode_child_graph(const std::shared_ptr<node>& root) {
  // Breadth-first from the output node, as workflow_run::add_graph.
  std::unordered_map<const node*, std::uint32_t> seen;
  std::vector<const node*> order{root.get()};
  seen.emplace(root.get(), 0);
  auto put = [&](auto& self, const std::vector<arg>& in,
                 std::vector<rec::arg_rec>& out) -> void {
    for (auto& a : in) {
      rec::arg_rec r;
      r.kind = static_cast<std::uint8_t>(a.what);
      switch (a.what) {
        case arg::kind::value: r.value.data = a.bytes; break;
        case arg::kind::blob: r.key = a.bytes; break;
        case arg::kind::node: {
          auto [it, fresh] = seen.emplace(
            a.ref.get(), static_cast<std::uint32_t>(order.size()));
          if (fresh)
            order.push_back(a.ref.get());
          r.node = it->second;
          break;
        }
        case arg::kind::list:
          r.count = static_cast<std::uint32_t>(a.items.size());
          break;
      }
      out.push_back(std::move(r));
      if (a.what == arg::kind::list)
        self(self, a.items, out);
    }
  };
  rec::child_graph g;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const node& n = *order[k];
    if (!n.def || n.def->name.empty())
      throw_error(status{errc::invalid_argument,
                         "a child workflow's graph holds a node without a "
                         "step"});
    rec::child_node c;
    c.step = n.def->name;
    c.name = n.opts.name;
    c.max_attempts = n.opts.max_attempts.value_or(-1);
    c.backoff_ms = n.opts.retry_backoff ? n.opts.retry_backoff->count() : -1;
    c.timeout_ms = n.opts.timeout ? n.opts.timeout->count() : -1;
    c.heartbeat_ms =
      n.opts.heartbeat_timeout ? n.opts.heartbeat_timeout->count() : -1;
    c.backoff_max_ms =
      n.opts.retry_backoff_max ? n.opts.retry_backoff_max->count() : -1;
    c.jitter = n.opts.retry_jitter.value_or(-1);
    c.cpus = n.opts.resources.cpus.value_or(-1);
    c.gpus = n.opts.resources.gpus.value_or(-1);
    c.custom = n.opts.resources.custom;
    c.metadata = n.opts.metadata;
    c.catching = n.catching;
    c.local = n.opts.local ? static_cast<std::int8_t>(*n.opts.local) : -1;
    put(put, n.args, c.args);
    g.nodes.push_back(std::move(c));
  }
  return codec::encode(g);
}

result<std::shared_ptr<node>> decode_child_graph(std::string_view bytes) {
  auto g = codec::decode<rec::child_graph>(bytes);
  if (!g)
    return unexpected{errc::corruption,
                      "a child node's graph does not decode: "
                        + g.error().message()};
  if (g->nodes.empty())
    return unexpected{errc::corruption, "a child node's graph is empty"};
  std::vector<std::shared_ptr<node>> nodes(g->nodes.size());
  for (auto& n : nodes)
    n = std::make_shared<node>();
  status err;
  auto get = [&](auto& self, const std::vector<rec::arg_rec>& in,
                 std::size_t& pos, std::size_t count,
                 std::vector<arg>& out) -> bool {
    for (std::size_t k = 0; k < count; ++k) {
      if (pos >= in.size()) {
        err = {errc::corruption, "a child graph's argument list ends early"};
        return false;
      }
      auto& r = in[pos++];
      arg a;
      a.what = static_cast<arg::kind>(r.kind);
      switch (a.what) {
        case arg::kind::value: a.bytes = r.value.data; break;
        case arg::kind::blob: a.bytes = r.key; break;
        case arg::kind::node:
          if (r.node >= nodes.size()) {
            err = {errc::corruption, "a child graph names an unknown node"};
            return false;
          }
          a.ref = nodes[r.node];
          break;
        case arg::kind::list:
          if (!self(self, in, pos, r.count, a.items))
            return false;
          break;
        default:
          err = {errc::corruption, "a child graph's argument kind is unknown"};
          return false;
      }
      out.push_back(std::move(a));
    }
    return true;
  };
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    auto& c = g->nodes[k];
    auto& n = *nodes[k];
    n.def = find_step(c.step);
    if (!n.def)
      return unexpected{errc::not_found,
                        fmt::format("the child workflow's step '{}' is not "
                                    "registered in this program",
                                    c.step)};
    n.opts.name = c.name;
    if (c.max_attempts >= 0)
      n.opts.max_attempts = c.max_attempts;
    if (c.backoff_ms >= 0)
      n.opts.retry_backoff = std::chrono::milliseconds{c.backoff_ms};
    if (c.timeout_ms >= 0)
      n.opts.timeout = std::chrono::milliseconds{c.timeout_ms};
    if (c.heartbeat_ms >= 0)
      n.opts.heartbeat_timeout = std::chrono::milliseconds{c.heartbeat_ms};
    if (c.backoff_max_ms >= 0)
      n.opts.retry_backoff_max = std::chrono::milliseconds{c.backoff_max_ms};
    if (c.jitter >= 0)
      n.opts.retry_jitter = c.jitter;
    if (c.cpus >= 0)
      n.opts.resources.cpus = c.cpus;
    if (c.gpus >= 0)
      n.opts.resources.gpus = c.gpus;
    n.opts.resources.custom = c.custom;
    n.opts.metadata = c.metadata;
    n.catching = c.catching;
    if (c.local >= 0)
      n.opts.local = c.local != 0;
    for (std::size_t pos = 0; pos < c.args.size();)
      if (!get(get, c.args, pos, 1, n.args))
        return err;
  }
  return nodes.front();
}

} // namespace perdure::detail

namespace perdure {

result<std::shared_ptr<detail::node>>
decode_workflow_graph(std::string_view bytes) {
  return detail::decode_child_graph(bytes);
}

} // namespace perdure
