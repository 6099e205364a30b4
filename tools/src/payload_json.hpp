// SPDX-License-Identifier: Apache-2.0
#pragma once

// Payloads as JSON without the application's types: the codec renders any
// FlexBuffer, and the user values nested inside perdure's own records (a
// step's output, a graph's argument values) are unwrapped so they read as
// JSON too instead of base64.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace perdure::tools {

using json = nlohmann::json;

/// The payload of a record of `kind` as JSON. A payload that does not decode
/// becomes {"$undecodable": "<why>", "$size": n}; never throws for bad bytes.
json payload_json(std::uint16_t kind, std::string_view payload);

/// A self-describing value (one FlexBuffer) as JSON; nullopt when the bytes
/// are not a well-formed FlexBuffer.
std::optional<json> value_json(std::string_view flexbuffer);

/// `j` as one line of JSON (UTF-8 kept, invalid bytes replaced).
std::string dump_compact(const json& j);

/// `j` indented by two spaces.
std::string dump_pretty(const json& j);

/// Encodes `bytes` as standard base64 with padding.
std::string base64_encode(std::string_view bytes);

/// Decodes standard base64 (with or without padding); nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace perdure::tools

#include "perdure/eventlog/types.hpp"

namespace perdure::tools {

/// A directory entry as JSON: id, kind, status (as shown) and stored_status,
/// seqs, record count, times (ISO and ns) and the decoded metadata.
json entry_json(const eventlog::stream_info& info, const std::string& shown,
                bool utc);

/// The number of records a stream holds.
std::uint64_t record_count(const eventlog::stream_info& info);

} // namespace perdure::tools
