// SPDX-License-Identifier: Apache-2.0
#pragma once

// The payload-codec checks run on one untrusted input, shared by the libFuzzer
// target `fuzz_codec` and by the corpus replay in eventlog_test, so the
// normal (gcc) test run covers every committed input without clang.

#include "perdure/eventlog/codec.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

namespace perdure::fuzz {

enum class line_state : std::uint8_t { open, shipped, returned };

/// Saved as a number; loading throws above 100, so the hook failure path is
/// reachable from any input.
class percent {
 public:
  percent() = default;
  explicit percent(std::uint8_t v)
      : value_(v) {}
  std::uint32_t perdure_save() const {
    return value_;
  }
  static percent perdure_load(std::uint32_t v) {
    if (v > 100)
      throw std::out_of_range("percent above 100");
    return percent{static_cast<std::uint8_t>(v)};
  }

 private:
  std::uint8_t value_ = 0;
};

struct line {
  std::string sku;
  std::int32_t quantity = 0;
  double price = 0;
  std::optional<std::string> note;
  line_state state = line_state::open;
  percent discount;
};
PERDURE_FIELDS(line, sku, quantity, price, note, state, discount)

struct order {
  std::string id;
  std::vector<line> lines;
  std::map<std::string, std::int64_t> totals;
  std::variant<std::monostate, std::int64_t, std::string> reference;
  std::tuple<bool, float, codec::bytes> extra;
  std::set<std::string> tags;
  std::array<std::int16_t, 3> origin{};
};
PERDURE_FIELDS(order, id, lines, totals, reference, extra, tags, origin)

/// Recursive, so nesting depth reaches the decoder.
struct tree {
  std::string label;
  std::vector<tree> children;
};
PERDURE_FIELDS(tree, label, children)

namespace detail {

/// JSON text without the whitespace outside strings.
inline std::string squeeze_json(std::string_view text) {
  std::string out;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      out += c;
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\n') {
      out += c;
    }
  }
  return out;
}

inline bool codec_error(const status& st) {
  return st.code() == errc::corruption || st.code() == errc::type_mismatch;
}

/// Decodes `payload` as `T`; on success, re-encoding must be stable: the
/// encoding of the value decodes again, to a value with the same encoding.
template <class T>
std::string check_decode(std::string_view payload, bool valid,
                         const char* name) {
  auto decoded = codec::decode<T>(payload);
  if (!decoded) {
    if (!codec_error(decoded.error()))
      return std::string{name} + ": unexpected error " +
             decoded.error().to_string();
    return {};
  }
  if (!valid)
    return std::string{name} + ": decoded a payload validate rejects";
  std::string first = codec::encode(*decoded);
  auto again = codec::decode<T>(first);
  if (!again)
    return std::string{name} +
           ": its own encoding fails to decode: " + again.error().to_string();
  if (codec::encode(*again) != first)
    return std::string{name} + ": re-encoding is not stable";
  if (!codec::to_json(first))
    return std::string{name} + ": to_json fails on its own encoding";
  return {};
}

} // namespace detail

/// Runs validate, to_json, to_json_pretty and decode<T> for representative
/// types over `payload`. Returns what went wrong, or an empty string when
/// every check held; a memory error or undefined behaviour shows up through
/// the sanitizers instead.
inline std::string check_codec_input(std::string_view payload) {
  status valid = codec::validate(payload);
  if (!valid && valid.code() != errc::corruption)
    return "validate: unexpected error " + valid.to_string();
  auto compact = codec::to_json(payload);
  auto pretty = codec::to_json_pretty(payload, 2);
  if (compact.has_value() != valid.is_ok() ||
      pretty.has_value() != valid.is_ok())
    return "to_json and validate disagree";
  if (compact && detail::squeeze_json(*pretty) != *compact)
    return "to_json_pretty differs from to_json beyond whitespace";
  std::string failure;
  auto run = [&](std::string found) {
    if (failure.empty())
      failure = std::move(found);
  };
  bool ok = valid.is_ok();
  run(detail::check_decode<order>(payload, ok, "order"));
  run(detail::check_decode<tree>(payload, ok, "tree"));
  run(detail::check_decode<std::map<std::string, std::int64_t>>(
      payload, ok, "map<str,i64>"));
  run(detail::check_decode<std::map<std::int32_t, std::string>>(
      payload, ok, "map<i32,str>"));
  run(detail::check_decode<std::variant<std::monostate, std::int64_t,
                                        std::string, std::vector<double>>>(
      payload, ok, "variant"));
  run(detail::check_decode<std::optional<std::uint32_t>>(payload, ok,
                                                         "optional<u32>"));
  run(detail::check_decode<std::vector<std::string>>(payload, ok, "vec<str>"));
  run(detail::check_decode<std::vector<std::uint8_t>>(payload, ok, "vec<u8>"));
  run(detail::check_decode<std::vector<float>>(payload, ok, "vec<f32>"));
  run(detail::check_decode<std::vector<bool>>(payload, ok, "vec<bool>"));
  run(detail::check_decode<std::int64_t>(payload, ok, "i64"));
  run(detail::check_decode<double>(payload, ok, "f64"));
  run(detail::check_decode<std::string>(payload, ok, "str"));
  run(detail::check_decode<percent>(payload, ok, "percent"));
  return failure;
}

} // namespace perdure::fuzz
