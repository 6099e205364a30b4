// SPDX-License-Identifier: Apache-2.0
#pragma once

// Implementation detail of perdure/eventlog/codec.hpp (include that): the
// encode templates, the reused thread-local builders and when sharing map
// keys pays.

#include <flatbuffers/flexbuffers.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "perdure/eventlog/codec/traits.hpp"

namespace perdure::codec::detail {

// -- key sharing ----

template <class T>
consteval bool repeats_keys();

/// Whether `T` encodes to a FlexBuffers map somewhere (a struct, a map with
/// string keys).
template <class T>
consteval bool has_keys() {
  constexpr kind k = classify<T>();
  if constexpr (k == kind::fields)
    return true;
  else if constexpr (k == kind::hooked)
    return has_keys<saved_t<T>>();
  else if constexpr (k == kind::sequence || k == kind::array || k == kind::set
                     || k == kind::optional)
    return has_keys<std::remove_cv_t<typename T::value_type>>();
  else if constexpr (k == kind::map)
    return std::is_same_v<typename T::key_type, std::string>
           || has_keys<typename T::key_type>()
           || has_keys<typename T::mapped_type>();
  else if constexpr (k == kind::tuple || k == kind::variant)
    return []<template <class...> class Tmpl, class... A>(
             std::type_identity<Tmpl<A...>>) {
      return (has_keys<std::remove_cv_t<A>>() || ...);
    }(std::type_identity<T>{});
  else
    return false;
}

/// Whether the same map keys may repeat in `T`'s encoding (maps inside a
/// container), which makes sharing them in the builder worth its cost.
template <class T>
consteval bool repeats_keys() {
  constexpr kind k = classify<T>();
  if constexpr (k == kind::hooked)
    return repeats_keys<saved_t<T>>();
  else if constexpr (k == kind::sequence || k == kind::array || k == kind::set)
    return has_keys<std::remove_cv_t<typename T::value_type>>();
  else if constexpr (k == kind::map)
    return has_keys<typename T::key_type>()
           || has_keys<typename T::mapped_type>();
  else if constexpr (k == kind::optional)
    return repeats_keys<std::remove_cv_t<typename T::value_type>>();
  else if constexpr (k == kind::tuple || k == kind::variant)
    return []<template <class...> class Tmpl, class... A>(
             std::type_identity<Tmpl<A...>>) {
      return (repeats_keys<std::remove_cv_t<A>>() || ...);
    }(std::type_identity<T>{});
  else if constexpr (k == kind::fields)
    return []<class... F>(std::type_identity<std::tuple<F...>>) {
      return (repeats_keys<std::remove_cv_t<typename F::member_type>>() || ...);
    }(std::type_identity<
      std::remove_cv_t<decltype(perdure_fields(fields_tag<T>{}))>>{});
  else
    return false;
}

// -- builders ----

/// A thread-local, reused builder (a fresh one when already in use, e.g. by
/// a nested encode inside a save hook).
class builder_lease {
 public:
  /// `share_keys`: store each distinct map key once (worth it only when keys
  /// repeat, see `repeats_keys`).
  explicit builder_lease(bool share_keys);
  ~builder_lease();
  builder_lease(const builder_lease&) = delete;
  builder_lease& operator=(const builder_lease&) = delete;
  flexbuffers::Builder& get() noexcept {
    return *builder_;
  }
  /// Finishes the buffer and copies it out.
  std::string finish();

 private:
  flexbuffers::Builder* builder_;
  bool owned_;
  bool share_keys_;
};

// -- encoding ----

template <class T>
void encode_value(flexbuffers::Builder& b, const T& v);

template <class E>
void encode_scalars(flexbuffers::Builder& b, const E* data, std::size_t n) {
  // A typed vector's size prefix has the element width; past that, let the
  // builder pick a wider element width. Builder::Vector(const char*, ...)
  // would take the chars for a key, so chars always loop.
  if constexpr (!std::is_same_v<E, char>) {
    if (sizeof(E) == 8 || (n >> (8 * (sizeof(E) % 8))) == 0) {
      b.Vector(data, n);
      return;
    }
  }
  auto start = b.StartVector();
  for (std::size_t i = 0; i < n; ++i)
    encode_value(b, data[i]);
  b.EndVector(start, n != 0, false);
}

template <class Range>
void encode_elements(flexbuffers::Builder& b, const Range& r) {
  auto start = b.StartVector();
  for (const auto& e : r)
    encode_value(b, e);
  b.EndVector(start, false, false);
}

template <class T>
void encode_value(flexbuffers::Builder& b, const T& v) {
  constexpr kind k = kind_of<T>;
  if constexpr (!encodable_v<T>) {
    static_assert(encodable_v<T>,
                  "perdure::codec: type T is not encodable; declare its fields "
                  "with PERDURE_FIELDS(T, ...) or use a supported type");
  } else if constexpr (k == kind::hooked) {
    encode_value(b, v.perdure_save());
  } else if constexpr (k == kind::boolean) {
    b.Bool(v);
  } else if constexpr (k == kind::sint) {
    b.Int(static_cast<std::int64_t>(v));
  } else if constexpr (k == kind::uint) {
    b.UInt(static_cast<std::uint64_t>(v));
  } else if constexpr (k == kind::floating) {
    if constexpr (sizeof(T) == 4)
      b.Float(v);
    else
      b.Double(v);
  } else if constexpr (k == kind::enumeration) {
    encode_value(b, static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (k == kind::string) {
    // Builder::String copies size + 1 bytes: it needs the terminating NUL.
    b.String(v.c_str(), v.size());
  } else if constexpr (k == kind::string_view) {
    encode_value(b, std::string{v});
  } else if constexpr (k == kind::c_string) {
    if (v)
      b.String(v, std::strlen(v));
    else
      b.Null();
  } else if constexpr (k == kind::char_array) {
    const void* nul = std::memchr(v, 0, std::extent_v<T>);
    if (nul)
      b.String(v, static_cast<std::size_t>(static_cast<const char*>(nul) - v));
    else
      encode_value(b, std::string{v, std::extent_v<T>});
  } else if constexpr (std::is_same_v<T, bytes>) {
    b.Blob(v.data.data(), v.data.size());
  } else if constexpr (k == kind::blob) {
    b.Blob(v.data(), v.size());
  } else if constexpr (k == kind::sequence || k == kind::array) {
    using elem = typename T::value_type;
    if constexpr (std::is_arithmetic_v<elem> && !std::is_same_v<elem, bool>)
      encode_scalars(b, v.data(), v.size());
    else if constexpr (std::is_same_v<elem, bool>) {
      auto start = b.StartVector();
      for (bool e : v)
        b.Bool(e);
      b.EndVector(start, !v.empty(), false);
    } else
      encode_elements(b, v);
  } else if constexpr (k == kind::set) {
    encode_elements(b, v);
  } else if constexpr (k == kind::map) {
    if constexpr (std::is_same_v<typename T::key_type, std::string>) {
      // FlexBuffers keys are C strings: a key with a NUL byte falls back to
      // the [key, value] pair form, which decodes the same.
      bool plain = true;
      for (const auto& entry : v)
        if (entry.first.find('\0') != std::string::npos) {
          plain = false;
          break;
        }
      if (plain) {
        auto start = b.StartMap();
        for (const auto& [key, value] : v) {
          b.Key(key.c_str(), key.size());
          encode_value(b, value);
        }
        b.EndMap(start);
        return;
      }
    }
    auto start = b.StartVector();
    for (const auto& [key, value] : v) {
      auto pair_start = b.StartVector();
      encode_value(b, key);
      encode_value(b, value);
      b.EndVector(pair_start, false, false);
    }
    b.EndVector(start, false, false);
  } else if constexpr (k == kind::optional) {
    if (v)
      encode_value(b, *v);
    else
      b.Null();
  } else if constexpr (k == kind::tuple) {
    auto start = b.StartVector();
    std::apply([&](const auto&... e) { (encode_value(b, e), ...); }, v);
    b.EndVector(start, false, false);
  } else if constexpr (k == kind::variant) {
    if (v.valueless_by_exception()) {
      b.Null();
      return;
    }
    auto start = b.StartVector();
    b.UInt(v.index());
    std::visit([&](const auto& alt) { encode_value(b, alt); }, v);
    b.EndVector(start, false, false);
  } else if constexpr (k == kind::null) {
    b.Null();
  } else if constexpr (k == kind::fields) {
    auto start = b.StartMap();
    std::apply(
      [&](const auto&... f) {
        ((b.Key(f.name, f.size), encode_value(b, v.*(f.member))), ...);
      },
      fields_of<T>);
    b.EndMap(start);
  }
}

} // namespace perdure::codec::detail
