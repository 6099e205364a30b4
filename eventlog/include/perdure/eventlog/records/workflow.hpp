// SPDX-License-Identifier: Apache-2.0
#pragma once

// The payloads of the workflow records (record_kinds.hpp 100..111): the one
// schema that the runtime writes and the CLI, the tests and the torture
// program read. Codec structs, so the CLI decodes them to JSON without user
// code; user values are nested as `codec::bytes` holding their own
// self-describing FlexBuffer. Adding a field is compatible (a reader of an
// older record gets its default); removing or retyping one is not.

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::records {

/// The status a workflow's directory entry stores (stream_info::status):
/// `running` until one of the three ends is logged with it.
enum class stored_status : std::uint8_t {
  running,
  successful,
  failed,
  canceled
};

/// "running", "successful", "failed" or "canceled", as stored.
constexpr std::string_view status_text(stored_status s) noexcept {
  switch (s) {
  case stored_status::running:
    return "running";
  case stored_status::successful:
    return "successful";
  case stored_status::failed:
    return "failed";
  case stored_status::canceled:
    return "canceled";
  }
  return "running";
}

/// status_text as a std::string (what write_batch::set_status takes).
inline std::string status_string(stored_status s) {
  return std::string{status_text(s)};
}

/// The stored status `text` names; nullopt for any other text.
constexpr std::optional<stored_status>
parse_status(std::string_view text) noexcept {
  for (auto s : {stored_status::running, stored_status::successful,
                 stored_status::failed, stored_status::canceled})
    if (status_text(s) == text)
      return s;
  return std::nullopt;
}

/// Whether `s` is one of the ends (nothing runs any more).
constexpr bool ended(stored_status s) noexcept {
  return s != stored_status::running;
}

/// The change feed of workflow records (engine_options::workflow_feed):
/// one change_note per record of workflow_feed_kinds() appended to a
/// workflow's stream (perdure/eventlog/change_feed.hpp).
inline constexpr std::string_view workflow_feed_stream = "workflow-feed";

/// The record kinds a workflow's own stream holds: what the feed notes.
inline std::vector<std::uint16_t> workflow_feed_kinds() {
  std::vector<std::uint16_t> out;
  using eventlog::record_kind;
  for (auto k : {record_kind::workflow_submitted, record_kind::step_started,
                 record_kind::step_succeeded, record_kind::step_failed,
                 record_kind::step_continued, record_kind::workflow_succeeded,
                 record_kind::workflow_failed, record_kind::workflow_canceled,
                 record_kind::workflow_resumed, record_kind::event_received,
                 record_kind::timer_set})
    out.push_back(eventlog::to_u16(k));
  return out;
}

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
  std::int64_t timeout_ms = 0; ///< per attempt; 0: none
  std::int64_t heartbeat_ms = 0; ///< heartbeat timeout; 0: none
  std::int64_t backoff_max_ms = 0; ///< cap of the doubled backoff; 0: none
  double jitter = 0;               ///< retry jitter fraction, [0, 1]
  double cpus = 1;
  double gpus = 0;
  std::map<std::string, double> custom;
  std::map<std::string, std::string> metadata;
  bool catching = false;
  std::vector<arg_rec> args;
  bool local = false; ///< step_options::local (runs on the actor's thread)
};

struct workflow_submitted {
  std::map<std::string, std::string> metadata;
  std::uint32_t root = 0;
  std::vector<node_rec> nodes;
  /// The run number: 1, plus one per continue-as-new (records/runs.hpp).
  std::uint32_t run = 1;
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

/// A signal sent to workflow `workflow` (engine::signal, `perdure
/// signal`), appended to stream `signals/<workflow>`; consumed in seq order
/// per name by the workflow's wait_for_signal nodes.
struct signal_sent {
  std::string workflow;
  std::string name;
  codec::bytes value;     ///< the value's own self-describing FlexBuffer
  std::string sender = {}; ///< "engine" or "cli"
  /// Handed by engine::signal straight to the armed wait and stored by that
  /// wait's own batch (with its event_received): consumed as stored. No
  /// offset covers it; readers looking for unconsumed signals skip it.
  bool direct = false;
};

/// The stream holding the signals sent to workflow `workflow`.
inline std::string signal_stream(std::string_view workflow) {
  return "signals/" + std::string{workflow};
}

/// The `offsets` key of the signals named `name` of workflow `workflow`
/// whose signal stream was created at `created` (a removed workflow's
/// reused id starts afresh): its value is the seq after the last signal
/// of that name a wait consumed, so a signal of that name is consumed
/// exactly when its seq is below it. "signal/CREATED/LEN:NAME/ID": the
/// name's length keeps "a/b"+"c" apart from "a"+"b/c"; at most
/// 7 + 19 + 1 + 2 + 1 + 64 + 1 + 256 bytes, under the offsets' 400.
inline std::string signal_offset_key(std::int64_t created,
                                     std::string_view workflow,
                                     std::string_view name) {
  return "signal/" + std::to_string(created) + "/"
         + std::to_string(name.size()) + ":" + std::string{name} + "/"
         + std::string{workflow};
}

/// The prefix of a sender that carries an idempotency key ("key:KEY"):
/// perdure/cluster's keyed signals and promise settlements, applied once
/// per key.
inline constexpr std::string_view keyed_sender_prefix = "key:";

/// "key:KEY".
inline std::string keyed_sender(std::string_view key) {
  return std::string{keyed_sender_prefix} + std::string{key};
}

/// The `offsets` key that marks a signal from keyed sender `sender` in
/// workflow `workflow` created at `created` (the workflow's stream: a
/// removed workflow's reused id starts afresh), written in the signal's
/// batch, so that finding a key seen before is one look-up instead of a
/// scan of the signals: "signal-key/CREATED/LEN:SENDER/ID" (value 1).
/// nullopt when `sender` is not keyed, or when the key would pass the
/// offsets' 400 bytes (a 200-byte key with an id over 160 bytes): such a
/// signal is found by scanning the signal stream, by writer and reader
/// alike.
inline std::optional<std::string> signal_sender_key(
  std::int64_t created, std::string_view workflow, std::string_view sender) {
  if (!sender.starts_with(keyed_sender_prefix))
    return std::nullopt;
  auto k = "signal-key/" + std::to_string(created) + "/"
           + std::to_string(sender.size()) + ":" + std::string{sender} + "/"
           + std::string{workflow};
  if (k.size() > 400)
    return std::nullopt;
  return k;
}

/// The longest signal name, in bytes.
inline constexpr std::size_t max_signal_name_size = 64;

/// Empty when `name` is a valid signal name (1..64 bytes, no control
/// characters), else what is wrong with it.
inline std::string check_signal_name(std::string_view name) {
  if (name.empty())
    return "a signal name must not be empty";
  if (name.size() > max_signal_name_size)
    return "signal name '" + std::string{name.substr(0, 16)}
           + "...' is longer than 64 bytes";
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7F)
      return "a signal name must not contain control characters";
  return {};
}

/// workflow_succeeded, workflow_failed and workflow_canceled.
struct workflow_ended {
  std::string step = {}; ///< failed: the failing step's id
  std::string error_type = {};
  std::string error_text = {};
  std::string requested_by = {}; ///< canceled: "cli" from `perdure cancel`
};

PERDURE_FIELDS(arg_rec, kind, value, key, node, count)
PERDURE_FIELDS(node_rec, index, id, name, step, signature, sig_hash,
               max_attempts, backoff_ms, cpus, gpus, custom, metadata,
               catching, args, timeout_ms, heartbeat_ms, backoff_max_ms,
               jitter, local)
PERDURE_FIELDS(workflow_submitted, metadata, root, nodes, run)
PERDURE_FIELDS(step_started, node, id, attempt)
PERDURE_FIELDS(step_succeeded, node, id, output, started)
PERDURE_FIELDS(step_failed, node, id, attempt, error_type, error_text, final,
               started)
PERDURE_FIELDS(step_continued, node, id, root, nodes, started)
PERDURE_FIELDS(timer_set, node, id, due)
PERDURE_FIELDS(signal_sent, workflow, name, value, sender, direct)
PERDURE_FIELDS(workflow_ended, step, error_type, error_text, requested_by)

using eventlog::record_kind;
using eventlog::to_u16;

} // namespace perdure::records
