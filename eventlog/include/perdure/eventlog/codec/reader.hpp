// SPDX-License-Identifier: Apache-2.0
#pragma once

// Implementation detail of perdure/eventlog/codec.hpp (include that): the
// bounds-free FlexBuffers reader used after a payload passed validation, and
// the paths and messages of decoding errors.

#include <flatbuffers/flexbuffers.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "perdure/eventlog/status.hpp"

namespace perdure::codec::detail {

static_assert(std::endian::native == std::endian::little,
              "perdure::codec assumes a little-endian host");

// -- reading a validated payload ----

using fb_type = flexbuffers::Type;

inline std::uint64_t read_uint(const std::uint8_t* p, unsigned width) noexcept {
  switch (width) {
    case 1: return *p;
    case 2: { std::uint16_t v; std::memcpy(&v, p, 2); return v; }
    case 4: { std::uint32_t v; std::memcpy(&v, p, 4); return v; }
    default: { std::uint64_t v; std::memcpy(&v, p, 8); return v; }
  }
}

inline std::int64_t read_int(const std::uint8_t* p, unsigned width) noexcept {
  switch (width) {
    case 1: return static_cast<std::int8_t>(*p);
    case 2: { std::int16_t v; std::memcpy(&v, p, 2); return v; }
    case 4: { std::int32_t v; std::memcpy(&v, p, 4); return v; }
    default: { std::int64_t v; std::memcpy(&v, p, 8); return v; }
  }
}

/// @pre `width` is 4 or 8 (validation rejects narrower floats).
inline double read_float(const std::uint8_t* p, unsigned width) noexcept {
  if (width == 4) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  double d;
  std::memcpy(&d, p, 8);
  return d;
}

/// A value inside a validated payload. Unlike flexbuffers::Reference it reads
/// with memcpy (payloads need no alignment) and exposes the slot width.
struct ref {
  const std::uint8_t* slot = nullptr; ///< the inline value, or an offset
  std::uint8_t slot_width = 1;        ///< bytes of `slot`
  std::uint8_t width = 1;             ///< element / size-prefix width of the target
  fb_type type = flexbuffers::FBT_NULL;

  bool is_int() const noexcept {
    return type == flexbuffers::FBT_INT || type == flexbuffers::FBT_INDIRECT_INT;
  }
  bool is_uint() const noexcept {
    return type == flexbuffers::FBT_UINT
           || type == flexbuffers::FBT_INDIRECT_UINT;
  }
  bool is_float() const noexcept {
    return type == flexbuffers::FBT_FLOAT
           || type == flexbuffers::FBT_INDIRECT_FLOAT;
  }
  const std::uint8_t* target() const noexcept {
    return slot - read_uint(slot, slot_width);
  }
  std::int64_t as_int() const noexcept {
    return type == flexbuffers::FBT_INT ? read_int(slot, slot_width)
                                        : read_int(target(), width);
  }
  std::uint64_t as_uint() const noexcept {
    return type == flexbuffers::FBT_UINT ? read_uint(slot, slot_width)
                                         : read_uint(target(), width);
  }
  /// Bytes the float is stored in: 4 (a float) or 8 (a double).
  unsigned float_width() const noexcept {
    return type == flexbuffers::FBT_FLOAT ? slot_width : width;
  }
  double as_float() const noexcept {
    return type == flexbuffers::FBT_FLOAT ? read_float(slot, slot_width)
                                          : read_float(target(), width);
  }
  bool as_bool() const noexcept {
    return read_uint(slot, slot_width) != 0;
  }
  /// The text of a STRING or KEY.
  std::string_view as_string() const noexcept {
    auto t = target();
    auto p = reinterpret_cast<const char*>(t);
    if (type == flexbuffers::FBT_KEY)
      return std::string_view{p};
    return {p, static_cast<std::size_t>(read_uint(t - width, width))};
  }
  /// The bytes of a BLOB.
  std::string_view as_blob() const noexcept {
    return as_string();
  }
};

inline ref make_ref(const std::uint8_t* slot, std::uint8_t slot_width,
                    std::uint8_t packed) noexcept {
  return {slot, slot_width, static_cast<std::uint8_t>(1u << (packed & 3u)),
          static_cast<fb_type>(packed >> 2)};
}

/// The elements of any vector kind (untyped, typed, fixed, map values).
struct seq {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::uint8_t width = 1;
  const std::uint8_t* types = nullptr; ///< per-element packed types, or null
  fb_type elem_type = flexbuffers::FBT_NULL; ///< when `types` is null

  ref operator[](std::size_t i) const noexcept {
    const std::uint8_t* s = data + i * width;
    if (types)
      return make_ref(s, width, types[i]);
    return {s, width, width, elem_type};
  }
};

/// Views `r` as a sequence; false when it is not a vector (maps are not).
bool as_seq(const ref& r, seq& out) noexcept;

/// A map: sorted keys and their values.
struct map_view {
  seq keys;
  seq values;

  std::string_view key(std::size_t i) const noexcept {
    return std::string_view{reinterpret_cast<const char*>(keys[i].target())};
  }
  /// Binary search for `name` (which must contain no NUL).
  bool find(std::string_view name, ref& out) const noexcept;
};

/// Views `r` as a map; false when it is not one.
bool as_map(const ref& r, map_view& out) noexcept;

/// Checks that `bytes` is a well-formed FlexBuffer (bounds, offsets pointing
/// backwards, nesting depth, total work) and yields its root.
status validate(std::string_view bytes, ref& root);

// -- error paths and messages ----

/// A step of the path to the value being decoded; lives on the stack.
struct path {
  enum class step : std::uint8_t { field, key, index };
  const path* parent;
  step kind;
  std::string_view name;
  std::size_t index;
};

std::string render_path(const path* at);
status mismatch(const path* at, const std::string& expected, const ref& found);
status out_of_range(const path* at, const std::string& expected,
                    const ref& found);
status wrong_size(const path* at, const std::string& expected,
                  std::size_t found_size);
status load_failed(const path* at, const std::string& expected,
                   std::string_view what);

} // namespace perdure::codec::detail
