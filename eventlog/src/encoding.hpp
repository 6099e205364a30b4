// SPDX-License-Identifier: Apache-2.0
#pragma once

// Key layouts and value framing of the LMDB databases (FORMAT.md). Private to
// the eventlog module.

#include "perdure/eventlog/status.hpp"
#include "perdure/eventlog/types.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace perdure::eventlog::detail {

/// The format version stored in every framed value and in the meta database.
inline constexpr std::uint8_t format_version = 1;

/// Bytes before the FlatBuffers envelope: crc32c (4, little-endian), format
/// version (1), reserved zeros (3), envelope length (4, little-endian).
inline constexpr std::size_t frame_header_size = 12;

// -- keys ---------------------------------------------------------------------

/// Log key: stream id, a 0 byte, the sequence number big-endian.
std::string log_key(std::string_view stream, seq_t seq);

/// The key that sorts before every record of `stream`.
inline std::string log_prefix(std::string_view stream) {
  std::string k{stream};
  k.push_back('\0');
  return k;
}

/// Splits a log key; false when it is malformed.
bool parse_log_key(std::string_view key, std::string_view& stream, seq_t& seq);

/// Status index key: status, a 0 byte, stream id.
std::string status_key(std::string_view status, std::string_view stream);

/// Timer key: due time (big-endian, sign bit flipped so that order is time
/// order), stream id, a 0 byte, tag.
std::string timer_key(time_ns due, std::string_view stream,
                      std::string_view tag);
bool parse_timer_key(std::string_view key, timer_entry& out);

void put_be64(std::string& out, std::uint64_t v);
std::uint64_t get_be64(const char* p);

// -- framed values ------------------------------------------------------------

/// Frames a record: header + envelope(kind, time, writer, payload size) +
/// payload. The checksum covers the key too, so a value moved under another
/// key does not verify.
std::string frame_record(std::string_view key, std::uint16_t kind, time_ns time,
                         std::string_view writer, std::string_view payload);

/// Checks and unpacks a framed record in place; the views point into `value`.
status unframe_record(std::string_view key, std::string_view value,
                      record_view& out);

/// Frames a directory entry.
std::string frame_entry(std::string_view key, const stream_info& info);
status unframe_entry(std::string_view key, std::string_view value,
                     stream_info& out);

/// A small value (offset, blob) followed by the crc of key and value.
std::string frame_small(std::string_view key, std::string_view value);
status unframe_small(std::string_view key, std::string_view framed,
                     std::string_view& value);

/// Hex of SHA-256 of `bytes` (64 characters).
std::string sha256_hex(std::string_view bytes);

} // namespace perdure::eventlog::detail
