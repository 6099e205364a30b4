// SPDX-License-Identifier: Apache-2.0
#pragma once

// Child workflows (perdure/runtime/child.hpp): the link between a parent
// and the children it started, stored both ways in the child's first
// transaction (FORMAT.md, "Child workflows"): a `child_started` record in
// stream `children/<parent>`, and the parent's id in the child's metadata.

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::records {

/// Parent `parent`'s node `step` started workflow `child`. Appended to
/// stream `children/<parent>` in the batch holding the child's
/// `workflow_submitted`, once per child.
struct child_started {
  std::string parent;
  std::string step; ///< the parent's child node (step id "child:ID")
  std::string child;
};
PERDURE_FIELDS(child_started, parent, step, child)

/// One node of a child's graph as the parent logs it (the child node's
/// second argument): the per-call options as given (-1: unset), the
/// arguments in preorder as in node_rec (node args index `nodes`).
struct child_node {
  std::string step; ///< the registered step name
  std::string name; ///< per-call id base ("" unset)
  std::int32_t max_attempts = -1;
  std::int64_t backoff_ms = -1;
  std::int64_t timeout_ms = -1;
  std::int64_t heartbeat_ms = -1;
  std::int64_t backoff_max_ms = -1;
  double jitter = -1;
  double cpus = -1;
  double gpus = -1;
  std::map<std::string, double> custom;
  std::map<std::string, std::string> metadata;
  bool catching = false;
  std::vector<arg_rec> args;
  std::int8_t local = -1; ///< step_options::local: 0 no, 1 yes
};
PERDURE_FIELDS(child_node, step, name, max_attempts, backoff_ms, timeout_ms,
               heartbeat_ms, cpus, gpus, custom, metadata, catching, args,
               backoff_max_ms, jitter, local)

/// A child's whole graph; node 0 is its output node.
struct child_graph {
  std::vector<child_node> nodes;
};
PERDURE_FIELDS(child_graph, nodes)

/// The record kind of child_started.
inline constexpr std::uint16_t child_started_kind =
  static_cast<std::uint16_t>(record_kind::child_started);

/// The user-metadata keys of a child's workflow naming its parent and the
/// parent's node.
inline constexpr const char* parent_key = "perdure.parent";
inline constexpr const char* parent_step_key = "perdure.parent_step";

/// "children/<parent>" (kind other).
inline std::string children_stream(std::string_view parent) {
  return "children/" + std::string{parent};
}

/// The children workflow `parent` started, in start order (empty when
/// none).
inline result<std::vector<child_started>>
read_children(const eventlog::event_log& log, std::string_view parent) {
  std::vector<child_started> out;
  auto recs = log.read(children_stream(parent));
  if (!recs) {
    if (recs.error() == errc::not_found)
      return out;
    return std::move(recs).error();
  }
  for (auto& r : *recs) {
    if (r.kind != child_started_kind)
      continue;
    auto c = codec::decode<child_started>(r.payload);
    if (!c)
      return unexpected{errc::corruption,
                        fmt::format("stream '{}' seq {}: {}",
                                    children_stream(parent), r.seq,
                                    c.error().message())};
    out.push_back(std::move(*c));
  }
  return out;
}

} // namespace perdure::records
