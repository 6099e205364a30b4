// SPDX-License-Identifier: Apache-2.0
// Rebuilding a workflow's step table from its records, decoded with the
// runtime's own payload structs (perdure/eventlog/records/workflow.hpp).

#include "workflow_view.hpp"

#include "format.hpp"
#include "payload_json.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <fmt/format.h>

namespace perdure::tools {

namespace wire = perdure::records;
using nlohmann::json;

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
      s.local = n.local;
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
      wire::workflow_submitted v;
      if (!decode_into(payload, v, seq, problems))
        return;
      view_.submitted = true;
      view_.metadata = v.metadata;
      view_.root = v.root;
      view_.start = time;
      view_.runs = 1;
      view_.run_number = v.run;
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
      wire::step_started v;
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
    case record_kind::timer_set: {
      wire::timer_set v;
      if (!decode_into(payload, v, seq, problems))
        return;
      auto& s = node(v.node);
      s.due = v.due;
      if (s.start == 0)
        s.start = time;
      break;
    }
    case record_kind::event_received: // a wait's, sleep's or race's value
    case record_kind::step_succeeded: {
      wire::step_succeeded v;
      if (!decode_into(payload, v, seq, problems))
        return;
      auto& s = node(v.node);
      s.status = "succeeded";
      s.end = time;
      s.output = std::move(v.output.data);
      break;
    }
    case record_kind::step_failed: {
      wire::step_failed v;
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
      wire::step_continued v;
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
      wire::workflow_ended v;
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

json workflow_json(const workflow_view& v, bool utc) {
  // A time, or null when unset; the time between two set ones, or null.
  auto at = [utc](eventlog::time_ns t) {
    return t ? json(iso_time(t, utc)) : json(nullptr);
  };
  auto span = [](eventlog::time_ns a, eventlog::time_ns b) {
    return a && b ? json(b - a) : json(nullptr);
  };
  json j;
  j["status"] = v.status;
  j["root"] = v.root;
  j["runs"] = v.runs;
  j["run"] = v.run_number;
  j["start"] = at(v.start);
  j["end"] = at(v.end);
  j["duration_ns"] = span(v.start, v.end);
  j["metadata"] = v.metadata;
  j["error"] = v.error.empty() ? json(nullptr) : json(v.error);
  j["last_seq"] = v.last_seq;
  auto out = v.output();
  j["output"] = out ? value_json(**out).value_or(json(nullptr)) : json(nullptr);
  auto steps = json::array();
  for (auto& s : v.steps) {
    json st;
    st["index"] = s.index;
    st["id"] = s.id;
    st["step"] = s.step;
    st["status"] = s.status;
    st["attempts"] = s.attempts;
    st["max_attempts"] = s.max_attempts;
    st["local"] = s.local;
    st["start"] = at(s.start);
    st["end"] = at(s.end);
    st["duration_ns"] = span(s.start, s.end);
    st["inputs"] = s.inputs;
    st["owner"] = s.owner >= 0 ? json(s.owner) : json(nullptr);
    st["continued_to"] = s.continued_to >= 0 ? json(s.continued_to)
                                             : json(nullptr);
    st["error"] = s.error.empty() ? json(nullptr) : json(s.error);
    st["error_attempt"] = s.error_attempt;
    st["metadata"] = s.metadata;
    st["due"] = at(s.due);
    steps.push_back(std::move(st));
  }
  j["steps"] = std::move(steps);
  j["problems"] = v.problems;
  return j;
}

} // namespace perdure::tools
