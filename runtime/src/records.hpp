// SPDX-License-Identifier: Apache-2.0
#pragma once

// The payloads of the workflow records (record_kinds.hpp 100..108), as codec
// structs so the CLI decodes them to JSON without user code. User values are
// nested as `codec::bytes` holding their own self-describing FlexBuffer.

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/runtime/options.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace perdure::records {

/// One argument in preorder: kind 0 value (`bytes`), 1 node (`node` index),
/// 2 blob (`key`), 3 list (the next `count` entries at this level).
struct arg_rec {
  std::uint8_t kind = 0;
  codec::bytes value;
  std::string key;
  std::uint32_t node = 0;
  std::uint32_t count = 0;
};

/// One step call of a graph; `index` is global in the workflow.
struct node_rec {
  std::uint32_t index = 0;
  std::string id;
  std::string name;      ///< the id's base (explicit name or step name)
  std::string step;      ///< the registered step name
  std::string signature;
  std::string sig_hash;
  std::int32_t max_attempts = 3;
  std::int64_t backoff_ms = 0;
  double cpus = 1;
  double gpus = 0;
  std::map<std::string, double> custom;
  std::map<std::string, std::string> metadata;
  bool catching = false;
  std::vector<arg_rec> args;
};

struct workflow_submitted {
  std::map<std::string, std::string> metadata;
  std::uint32_t root = 0;
  std::vector<node_rec> nodes;
};

struct step_started {
  std::uint32_t node = 0;
  std::string id;
  std::int32_t attempt = 1;
};

/// `started` in the result records: when the attempt's body began (ns
/// since the epoch; after its retry backoff and any wait for resources),
/// 0 when unknown (events, records written before the field existed). The
/// attempt's step_started is logged when it is scheduled, before the wait.
struct step_succeeded {
  std::uint32_t node = 0;
  std::string id;
  codec::bytes output;
  std::int64_t started = 0;
};

struct step_failed {
  std::uint32_t node = 0;
  std::string id;
  std::int32_t attempt = 1;
  std::string error_type;
  std::string error_text;
  bool final = false; ///< no attempt left
  std::int64_t started = 0;
};

struct step_continued {
  std::uint32_t node = 0;
  std::string id;
  std::uint32_t root = 0; ///< the sub-graph's output node
  std::vector<node_rec> nodes;
  std::int64_t started = 0;
};

/// An event node's deadline, fixed when it first ran (with a timer index
/// entry in the same batch). The event itself is logged as event_received
/// with the step_succeeded payload.
struct timer_set {
  std::uint32_t node = 0;
  std::string id;
  std::int64_t due = 0; ///< ns since the epoch
};

struct workflow_ended {
  std::string step;       ///< failed: the failing step's id
  std::string error_type;
  std::string error_text;
};

PERDURE_FIELDS(arg_rec, kind, value, key, node, count)
PERDURE_FIELDS(node_rec, index, id, name, step, signature, sig_hash,
               max_attempts, backoff_ms, cpus, gpus, custom, metadata,
               catching, args)
PERDURE_FIELDS(workflow_submitted, metadata, root, nodes)
PERDURE_FIELDS(step_started, node, id, attempt)
PERDURE_FIELDS(step_succeeded, node, id, output, started)
PERDURE_FIELDS(step_failed, node, id, attempt, error_type, error_text, final,
               started)
PERDURE_FIELDS(step_continued, node, id, root, nodes, started)
PERDURE_FIELDS(timer_set, node, id, due)
PERDURE_FIELDS(workflow_ended, step, error_type, error_text)

using eventlog::record_kind;
using eventlog::to_u16;

} // namespace perdure::records
