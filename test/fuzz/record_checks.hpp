// SPDX-License-Identifier: Apache-2.0
#pragma once

// The record-framing checks run on one untrusted input, shared by the
// libFuzzer target `fuzz_record` and by the corpus replay in eventlog_test.
//
// Input layout: one byte `n`, then the LMDB key (the next n bytes, fewer when
// the input ends), then the stored value (the rest). The key is also parsed
// as a log key and as a timer key. Each unframing runs twice: on the value as
// given and on a copy whose checksum was recomputed, so inputs get past the
// CRC to the envelope parser.

#include "../../eventlog/src/crc32c.hpp"
#include "../../eventlog/src/encoding.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace perdure::fuzz {

namespace detail {

inline std::uint32_t frame_crc(std::string_view key, std::string_view body) {
  using eventlog::detail::crc32c;
  return crc32c(crc32c(0, key.data(), key.size()), body.data(), body.size());
}

inline void put_le32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

inline bool within(std::string_view part, std::string_view whole) {
  if (part.empty())
    return true;
  return part.data() >= whole.data() &&
         part.data() + part.size() <= whole.data() + whole.size();
}

inline bool framing_error(const status& st) {
  return st.code() == errc::corruption || st.code() == errc::unsupported;
}

inline std::string check_record(std::string_view key, std::string_view value,
                                const char* name) {
  using namespace eventlog::detail;
  eventlog::record_view rv;
  status st = unframe_record(key, value, rv);
  if (!st)
    return framing_error(st)
               ? std::string{}
               : std::string{name} + ": unexpected error " + st.to_string();
  if (!within(rv.writer, value) || !within(rv.payload, value))
    return std::string{name} + ": a view points outside the value";
  std::string again =
      frame_record(key, rv.kind, rv.time, rv.writer, rv.payload);
  eventlog::record_view back;
  if (!unframe_record(key, again, back))
    return std::string{name} + ": its own framing fails to unframe";
  if (back.kind != rv.kind || back.time != rv.time ||
      back.writer != rv.writer || back.payload != rv.payload)
    return std::string{name} + ": reframing changes the record";
  return {};
}

inline std::string check_entry(std::string_view key, std::string_view value,
                               const char* name) {
  using namespace eventlog::detail;
  eventlog::stream_info info;
  status st = unframe_entry(key, value, info);
  if (!st)
    return framing_error(st)
               ? std::string{}
               : std::string{name} + ": unexpected error " + st.to_string();
  if (info.id != key)
    return std::string{name} + ": the entry's id is not its key";
  eventlog::stream_info back;
  if (!unframe_entry(key, frame_entry(key, info), back))
    return std::string{name} + ": its own framing fails to unframe";
  if (back.kind != info.kind || back.status != info.status ||
      back.created != info.created || back.updated != info.updated ||
      back.first_seq != info.first_seq || back.last_seq != info.last_seq ||
      back.snapshot_seq != info.snapshot_seq || back.metadata != info.metadata)
    return std::string{name} + ": reframing changes the entry";
  return {};
}

inline std::string check_small(std::string_view key, std::string_view framed,
                               const char* name) {
  using namespace eventlog::detail;
  std::string_view value;
  status st = unframe_small(key, framed, value);
  if (!st)
    return st.code() == errc::corruption
               ? std::string{}
               : std::string{name} + ": unexpected error " + st.to_string();
  if (!within(value, framed) || frame_small(key, value) != framed)
    return std::string{name} + ": reframing changes the value";
  return {};
}

} // namespace detail

/// A fuzz input split into an LMDB key and the value stored under it.
struct record_input {
  std::string_view key;
  /// A copy, so that a read past the end of the value is a sanitizer error
  /// rather than a read into the rest of the input.
  std::string value;
};

/// Splits `input` as described at the top of this file.
/// @pre `input` is not empty.
inline record_input split_record_input(std::string_view input) {
  std::size_t n = static_cast<unsigned char>(input[0]);
  std::string_view rest = input.substr(1);
  std::string_view key = rest.substr(0, n);
  return {key, std::string{rest.substr(key.size())}};
}

/// Splits `input` into key and value and runs every unframing and key parser
/// of eventlog/src/encoding.hpp over them. Returns what went wrong, or an
/// empty string when every check held.
inline std::string check_record_input(std::string_view input) {
  using namespace eventlog::detail;
  if (input.empty())
    return {};
  auto [key, value] = split_record_input(input);

  std::string failure;
  auto run = [&](std::string found) {
    if (failure.empty())
      failure = std::move(found);
  };

  std::string_view stream;
  eventlog::seq_t seq = 0;
  if (parse_log_key(key, stream, seq) && log_key(stream, seq) != key)
    run("parse_log_key: log_key does not rebuild the key");
  eventlog::timer_entry timer;
  if (parse_timer_key(key, timer) &&
      timer_key(timer.due, timer.stream, timer.tag) != key)
    run("parse_timer_key: timer_key does not rebuild the key");

  run(detail::check_record(key, value, "unframe_record"));
  run(detail::check_entry(key, value, "unframe_entry"));
  run(detail::check_small(key, value, "unframe_small"));

  if (value.size() >= 4) {
    std::string fixed = value;
    detail::put_le32(fixed.data(),
                     detail::frame_crc(key, std::string_view{fixed}.substr(4)));
    run(detail::check_record(key, fixed, "unframe_record (crc fixed)"));
    run(detail::check_entry(key, fixed, "unframe_entry (crc fixed)"));
    std::string small = value;
    std::size_t body = small.size() - 4;
    detail::put_le32(
        small.data() + body,
        detail::frame_crc(key, std::string_view{small}.substr(0, body)));
    run(detail::check_small(key, small, "unframe_small (crc fixed)"));
  }
  return failure;
}

} // namespace perdure::fuzz
