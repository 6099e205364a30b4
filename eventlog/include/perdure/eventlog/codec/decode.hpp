// SPDX-License-Identifier: Apache-2.0
#pragma once

// Implementation detail of perdure/eventlog/codec.hpp (include that):
// `decode_value`, which reads a validated payload into a C++ value.

#include <cstring>
#include <exception>
#include <type_traits>
#include <utility>

#include "perdure/eventlog/codec/decode_kinds.hpp"
#include "perdure/eventlog/codec/reader.hpp"
#include "perdure/eventlog/codec/signature.hpp"
#include "perdure/eventlog/codec/traits.hpp"
#include "perdure/eventlog/status.hpp"

namespace perdure::codec::detail {

// -- decoding ----

template <class T>
status decode_value(const ref& r, T& out, const path* at) {
  constexpr kind k = kind_of<T>;
  if constexpr (!check<T>(true)) {
    static_assert(check<T>(true),
                  "perdure::codec: type T is not decodable; it must be "
                  "encodable, own its data (no string_view or char pointer) "
                  "and be default-constructible");
    return {};
  } else if constexpr (k == kind::hooked) {
    saved_t<T> saved{};
    if (auto st = decode_value(r, saved, at); !st)
      return st;
    try {
      out = T::perdure_load(std::move(saved));
    } catch (const std::exception& e) {
      return load_failed(at, describe<T>(), e.what());
    } catch (...) {
      return load_failed(at, describe<T>(), "unknown exception");
    }
    return {};
  } else if constexpr (k == kind::boolean) {
    if (r.type != flexbuffers::FBT_BOOL)
      return mismatch(at, "bool", r);
    out = r.as_bool();
    return {};
  } else if constexpr (k == kind::sint || k == kind::uint) {
    return decode_integer(r, out, at);
  } else if constexpr (k == kind::floating) {
    return decode_float(r, out, at);
  } else if constexpr (k == kind::enumeration) {
    std::underlying_type_t<T> raw{};
    if (auto st = decode_integer(r, raw, at); !st)
      return st;
    out = static_cast<T>(raw);
    return {};
  } else if constexpr (k == kind::string) {
    if (r.type != flexbuffers::FBT_STRING && r.type != flexbuffers::FBT_KEY)
      return mismatch(at, "str", r);
    out.assign(r.as_string());
    return {};
  } else if constexpr (k == kind::blob) {
    if (r.type != flexbuffers::FBT_BLOB)
      return mismatch(at, "bytes", r);
    std::string_view b = r.as_blob();
    if constexpr (std::is_same_v<T, bytes>)
      out.data.assign(b);
    else
      out.assign(reinterpret_cast<const std::byte*>(b.data()),
                 reinterpret_cast<const std::byte*>(b.data() + b.size()));
    return {};
  } else if constexpr (k == kind::sequence || k == kind::array
                       || k == kind::set) {
    using elem = std::remove_cv_t<typename T::value_type>;
    seq s;
    if (!as_seq(r, s))
      return mismatch(at, describe<T>(), r);
    if constexpr (k == kind::array) {
      if (s.size != std::tuple_size_v<T>)
        return wrong_size(at, describe<T>(), s.size);
    }
    if constexpr (k != kind::set && std::is_arithmetic_v<elem>
                  && !std::is_same_v<elem, bool>) {
      if (!s.types && s.width == sizeof(elem)
          && s.elem_type == scalar_type<elem>()) {
        if constexpr (k == kind::sequence)
          out.resize(s.size);
        if (s.size)
          std::memcpy(out.data(), s.data, s.size * sizeof(elem));
        return {};
      }
    }
    if constexpr (k == kind::array) {
      for (std::size_t i = 0; i < s.size; ++i) {
        path p{at, path::step::index, {}, i};
        if (auto st = decode_value(s[i], out[i], &p); !st)
          return st;
      }
      return {};
    } else if constexpr (k == kind::sequence) {
      out.clear();
      out.reserve(s.size);
      return decode_elements<elem>(
        s, at, [&](elem&& e) { out.push_back(std::move(e)); });
    } else {
      out.clear();
      return decode_elements<elem>(
        s, at, [&](elem&& e) { out.insert(std::move(e)); });
    }
  } else if constexpr (k == kind::map) {
    return decode_map(r, out, at);
  } else if constexpr (k == kind::optional) {
    if (r.type == flexbuffers::FBT_NULL) {
      out.reset();
      return {};
    }
    out.emplace();
    return decode_value(r, *out, at);
  } else if constexpr (k == kind::tuple) {
    constexpr std::size_t n = std::tuple_size_v<T>;
    seq s;
    if (!as_seq(r, s))
      return mismatch(at, describe<T>(), r);
    if (s.size != n)
      return wrong_size(at, describe<T>(), s.size);
    status st;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      static_cast<void>((decode_tuple_element<I>(s, out, at, st) && ...));
    }(std::make_index_sequence<n>{});
    return st;
  } else if constexpr (k == kind::variant) {
    return decode_variant(r, out, at);
  } else if constexpr (k == kind::null) {
    if (r.type != flexbuffers::FBT_NULL)
      return mismatch(at, "null", r);
    return {};
  } else if constexpr (k == kind::fields) {
    return decode_struct(r, out, at);
  }
}

} // namespace perdure::codec::detail
