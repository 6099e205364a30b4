// SPDX-License-Identifier: Apache-2.0
#pragma once

// The signals and settled promises of a workflow (stream signals/ID), each
// signal marked consumed or waiting: part of `perdure show --json` and the
// UI's workflow page.

#include "payload_json.hpp"

#include "perdure/eventlog/event_log.hpp"

#include <string_view>

namespace perdure::tools {

/// {"signals": [{seq, time, name, sender, value, consumed}],
///  "promises": [{seq, time, name, sender, ok, value, error}]} of workflow
/// `id`, oldest first; both empty when it was never signalled. A record
/// that does not decode is listed with its "$undecodable" payload. A
/// signal is consumed when its name's stored offset
/// (records::signal_offset_key) is past its seq.
result<json> workflow_signals(const eventlog::event_log& log,
                              std::string_view id, bool utc);

} // namespace perdure::tools
