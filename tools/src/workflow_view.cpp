// SPDX-License-Identifier: Apache-2.0
// Rebuilding a workflow's step table from its records. The payload structs
// below name only the fields the CLI reads; the codec ignores the rest and
// leaves missing ones at their defaults, so this stays independent of the
// runtime's code (runtime/src/records.hpp is the writer's side).

#include "workflow_view.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <fmt/format.h>

namespace perdure::tools {

namespace wire {

struct arg {
  std::uint8_t kind = 0;
  std::uint32_t node = 0;
};

struct node_rec {
  std::uint32_t index = 0;
  std::string id;
  std::string step;
  std::int32_t max_attempts = 0;
  std::map<std::string, std::string> metadata;
  std::vector<arg> args;
};

struct submitted {
  std::map<std::string, std::string> metadata;
  std::uint32_t root = 0;
  std::vector<node_rec> nodes;
};

struct started {
  std::uint32_t node = 0;
  std::int32_t attempt = 1;
};

struct succeeded {
  std::uint32_t node = 0;
  codec::bytes output;
};

struct failed {
  std::uint32_t node = 0;
  std::int32_t attempt = 1;
  std::string error_type;
  std::string error_text;
  bool final = false;
};

struct continued {
  std::uint32_t node = 0;
  std::uint32_t root = 0;
  std::vector<node_rec> nodes;
};

struct ended {
  std::string step;
  std::string error_type;
  std::string error_text;
};

PERDURE_FIELDS(arg, kind, node)
PERDURE_FIELDS(node_rec, index, id, step, max_attempts, metadata, args)
PERDURE_FIELDS(submitted, metadata, root, nodes)
PERDURE_FIELDS(started, node, attempt)
PERDURE_FIELDS(succeeded, node, output)
PERDURE_FIELDS(failed, node, attempt, error_type, error_text, final)
PERDURE_FIELDS(continued, node, root, nodes)
PERDURE_FIELDS(ended, step, error_type, error_text)

} // namespace wire

const std::optional<std::string>* workflow_view::output() const {
  if (status != "successful" || root >= steps.size() || !steps[root].output)
    return nullptr;
  return &steps[root].output;
}

const step_view* workflow_view::find(std::string_view id) const {
  for (auto& s : steps)
    if (s.id == id)
      return &s;
  return nullptr;
}

step_view& workflow_builder::node(std::uint32_t index) {
  if (index >= view_.steps.size()) {
    auto old = view_.steps.size();
    view_.steps.resize(index + 1);
    for (auto i = old; i < view_.steps.size(); ++i)
      view_.steps[i].index = static_cast<std::uint32_t>(i);
  }
  return view_.steps[index];
}

namespace {

using eventlog::record_kind;

template <class T>
bool decode_into(std::string_view payload, T& out, eventlog::seq_t seq,
                 std::vector<std::string>& problems) {
  auto v = codec::decode<T>(payload);
  if (!v) {
    problems.push_back(fmt::format("seq {}: {}", seq, v.error().message()));
    return false;
  }
  out = std::move(*v);
  return true;
}

} // namespace

void workflow_builder::apply(eventlog::seq_t seq, std::uint16_t kind,
                             eventlog::time_ns time, std::string_view payload) {
  view_.last_seq = seq;
  auto& problems = view_.problems;
  auto add_nodes = [&](const std::vector<wire::node_rec>& nodes,
                       std::int32_t owner) {
    for (auto& n : nodes) {
      auto& s = node(n.index);
      s.id = n.id;
      s.step = n.step;
      s.max_attempts = n.max_attempts;
      s.metadata = n.metadata;
      s.owner = owner;
      s.inputs.clear();
      for (auto& a : n.args)
        if (a.kind == 1)
          s.inputs.push_back(a.node);
    }
  };
  switch (static_cast<record_kind>(kind)) {
    case record_kind::workflow_submitted: {
      wire::submitted v;
      if (!decode_into(payload, v, seq, problems))
        return;
      view_.submitted = true;
      view_.metadata = v.metadata;
      view_.root = v.root;
      view_.start = time;
      view_.runs = 1;
      view_.status = "running";
      add_nodes(v.nodes, -1);
      break;
    }
    case record_kind::workflow_resumed:
      ++view_.runs;
      view_.status = "running";
      view_.end = 0;
      view_.error.clear();
      for (auto& s : view_.steps)
        if (s.status == "running" || s.status == "retrying"
            || s.status == "failed" || s.status == "canceled")
          s.status = "pending";
      break;
    case record_kind::step_started: {
      wire::started v;
      if (!decode_into(payload, v, seq, problems))
        return;
      auto& s = node(v.node);
      s.status = "running";
      s.attempts = v.attempt;
      if (s.start == 0)
        s.start = time;
      s.end = 0;
      break;
    }
    case record_kind::step_succeeded: {
      wire::succeeded v;
      if (!decode_into(payload, v, seq, problems))
        return;
      auto& s = node(v.node);
      s.status = "succeeded";
      s.end = time;
      s.output = std::move(v.output.data);
      break;
    }
    case record_kind::step_failed: {
      wire::failed v;
      if (!decode_into(payload, v, seq, problems))
        return;
      auto& s = node(v.node);
      s.attempts = std::max(s.attempts, static_cast<int>(v.attempt));
      s.error = v.error_type + ": " + v.error_text;
      s.error_attempt = static_cast<int>(v.attempt);
      s.status = v.final ? "failed" : "retrying";
      if (v.final)
        s.end = time;
      break;
    }
    case record_kind::step_continued: {
      wire::continued v;
      if (!decode_into(payload, v, seq, problems))
        return;
      add_nodes(v.nodes, static_cast<std::int32_t>(v.node));
      auto& s = node(v.node);
      s.status = "continued";
      s.continued_to = static_cast<std::int32_t>(v.root);
      break;
    }
    case record_kind::workflow_succeeded:
      view_.status = "successful";
      view_.end = time;
      break;
    case record_kind::workflow_failed: {
      wire::ended v;
      if (decode_into(payload, v, seq, problems))
        view_.error = fmt::format("step '{}' raised {}: {}", v.step,
                                  v.error_type, v.error_text);
      view_.status = "failed";
      view_.end = time;
      break;
    }
    case record_kind::workflow_canceled:
      view_.status = "canceled";
      view_.end = time;
      for (auto& s : view_.steps)
        if (s.status == "running" || s.status == "retrying")
          s.status = "canceled";
      break;
    default: break;
  }
}

} // namespace perdure::tools
