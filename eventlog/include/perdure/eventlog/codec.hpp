// SPDX-License-Identifier: Apache-2.0
#pragma once

// The self-describing payload codec. Every step argument, step result and
// actor message is stored as FlexBuffers bytes that carry their own shape, so
// tools print any payload as JSON without the C++ type.
//
// Encodings (the FORMAT of a payload):
//   bool, integers, float/double  FlexBuffers bool, int / uint, float (32/64)
//   enums                         their underlying integer
//   std::string (string_view, const char*, char[N] encode only)  string
//   codec::bytes, vector<std::byte>  blob; JSON {"$bytes":"<base64>"}
//   vector, array, set            vector (typed for arithmetic elements)
//   map / unordered_map           string keys: map; other keys (or a key
//                                 holding a NUL byte): vector of [key, value]
//   optional                      the value, or null
//   pair, tuple                   vector of the elements
//   variant                       vector [index, value]
//   monostate                     null
//   PERDURE_FIELDS structs        map field name -> value
//   types with save/load hooks    whatever their saved form encodes as
//
// Decoding converts where nothing is lost: an integer decodes into any
// integer type whose range holds it (else type_mismatch), and into float or
// double; a float never decodes into an integer. optional<optional<T>> and
// optional<monostate> are rejected at compile time (both empties are null).
//
// Schema evolution for structs: decoding ignores unknown fields and leaves a
// missing field at its default, so adding or removing fields is compatible;
// renaming a field or changing its type is not.
//
// Save/load hooks: a type with `U perdure_save() const` and
// `static T perdure_load(U)` is encoded as its `U`; hooks take precedence
// over PERDURE_FIELDS. An exception thrown by `perdure_load` becomes a
// type_mismatch error of `decode`.

#include <string>
#include <string_view>

#include "perdure/eventlog/codec/decode.hpp"
#include "perdure/eventlog/codec/encode.hpp"
#include "perdure/eventlog/codec/fields.hpp"
#include "perdure/eventlog/codec/reader.hpp"
#include "perdure/eventlog/codec/signature.hpp"
#include "perdure/eventlog/codec/traits.hpp"
#include "perdure/eventlog/status.hpp"

namespace perdure::codec {

/// Raw bytes, encoded as a FlexBuffers blob.
struct bytes {
  std::string data;
  friend bool operator==(const bytes&, const bytes&) = default;
};

/// Whether `encode<T>` compiles. A PERDURE_FIELDS struct counts as encodable
/// (checked shallowly so recursive structs work); a bad field type is
/// reported where the struct is encoded.
template <class T>
inline constexpr bool is_encodable_v = detail::encodable_v<T>;

/// Whether `decode<T>` compiles: encodable, owning its data and
/// default-constructible (types with hooks need only their saved form to be).
template <class T>
inline constexpr bool is_decodable_v = detail::decodable_v<T>;

/// Appends `value` to `builder` as one FlexBuffers value, for composing a
/// payload out of several values. Throws only what the allocator or a
/// `perdure_save` hook throws.
template <class T>
void encode_to(flexbuffers::Builder& builder, const T& value) {
  detail::encode_value(builder, value);
}

/// Encodes `value` as a self-describing FlexBuffers payload. Thread-safe;
/// each thread reuses its own builder, so a small value costs one allocation
/// at most (the returned string). Throws only what the allocator or a
/// `perdure_save` hook throws.
template <class T>
std::string encode(const T& value) {
  static_assert(is_encodable_v<T>,
                "perdure::codec: type T is not encodable; declare its fields "
                "with PERDURE_FIELDS(T, ...) or use a supported type");
  detail::builder_lease lease{detail::repeats_keys<std::remove_cv_t<T>>()};
  detail::encode_value(lease.get(), value);
  return lease.finish();
}

/// Decodes a payload as `T`. Errors: `errc::corruption` when `payload` is not
/// a well-formed FlexBuffer; `errc::type_mismatch` when it is, but not a `T`
/// (wrong type, integer out of range, wrong tuple/array size, a throwing
/// `perdure_load`); the message names the path, e.g.
/// "expected f64 at $.items[3].price, found string". Never reads outside
/// `payload`, whatever it holds; `payload` needs no alignment.
template <class T>
result<T> decode(std::string_view payload) {
  static_assert(is_decodable_v<T>,
                "perdure::codec: type T is not decodable; it must be "
                "encodable, own its data (no string_view or char pointer) "
                "and be default-constructible");
  detail::ref root;
  if (auto st = detail::validate(payload, root); !st)
    return unexpected{std::move(st)};
  if constexpr (detail::kind_of<T> == detail::kind::hooked) {
    detail::saved_t<T> saved{};
    if (auto st = detail::decode_value(root, saved, nullptr); !st)
      return unexpected{std::move(st)};
    try {
      return T::perdure_load(std::move(saved));
    } catch (const std::exception& e) {
      return unexpected{detail::load_failed(nullptr, detail::describe<T>(),
                                            e.what())};
    } catch (...) {
      return unexpected{detail::load_failed(nullptr, detail::describe<T>(),
                                            "unknown exception")};
    }
  } else {
    T out{};
    if (auto st = detail::decode_value(root, out, nullptr); !st)
      return unexpected{std::move(st)};
    return out;
  }
}

/// Checks that `payload` is a well-formed FlexBuffer; `errc::corruption`
/// names what is wrong and where.
status validate(std::string_view payload);

/// Renders any payload as compact JSON. Maps (and structs) become objects
/// with keys in byte order; blobs `{"$bytes":"<base64>"}`; NaN and infinities
/// the strings "NaN", "Infinity", "-Infinity"; floats the shortest text that
/// reads back to the same value, always with a '.' or exponent (a 32-bit
/// float as a float, so 0.1f prints "0.1"). Strings are escaped (quote,
/// backslash, control characters); valid UTF-8 passes through and each byte
/// of invalid UTF-8 becomes U+FFFD ("\ufffd"). Errors: `errc::corruption`.
result<std::string> to_json(std::string_view payload);

/// As `to_json`, indented by `indent` spaces per level, one member per line
/// (`indent <= 0` renders compact JSON).
result<std::string> to_json_pretty(std::string_view payload, int indent = 2);

/// A stable textual name of `T`'s encoding, independent of the compiler:
/// "bool", "i8".."i64", "u8".."u64", "char", "f32", "f64", "str", "bytes",
/// "enum:i32", "vec<T>", "arr<T,N>", "set<T>", "map<K,V>", "opt<T>",
/// "tup<A,B>", "var<A,B>", "null", "struct{a:T,b:U}" (fields in name order;
/// "rec:N" refers to the struct N levels up). A hooked type has its saved
/// form's signature. Thread-safe; computed once per type.
template <class T>
const std::string& type_signature() {
  static_assert(is_encodable_v<T>,
                "perdure::codec: type T is not encodable; declare its fields "
                "with PERDURE_FIELDS(T, ...) or use a supported type");
  static const std::string signature = [] {
    std::string s;
    detail::append_signature<std::remove_cv_t<T>>(s);
    return s;
  }();
  return signature;
}

} // namespace perdure::codec

/// Declares the fields of struct `Type` for the codec, at namespace scope
/// right after the struct (found by argument-dependent lookup):
///   struct point { int x; double y; };
///   PERDURE_FIELDS(point, x, y)
/// `Type` must be default-constructible to be decoded and be spelled
/// without commas (use an alias for a template specialisation).
#define PERDURE_FIELDS(Type, ...)                                            \
  [[maybe_unused]] constexpr auto perdure_fields(                            \
    ::perdure::codec::detail::fields_tag<Type>) noexcept {                   \
    using perdure_self [[maybe_unused]] = Type;                              \
    return ::std::make_tuple(                                                \
      PERDURE_DETAIL_FOR_EACH(PERDURE_DETAIL_FIELD, __VA_ARGS__));           \
  }                                                                          \
  [[maybe_unused]] constexpr const char* perdure_type_name(                  \
    ::perdure::codec::detail::fields_tag<Type>) noexcept {                   \
    return #Type;                                                            \
  }
