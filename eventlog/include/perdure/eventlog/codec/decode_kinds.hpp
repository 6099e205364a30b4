// SPDX-License-Identifier: Apache-2.0
#pragma once

// Implementation detail of perdure/eventlog/codec.hpp (include that): the
// decoding of numbers, containers, maps, tuples, variants and structs that
// `decode_value` (decode.hpp) dispatches to.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "perdure/eventlog/codec/reader.hpp"
#include "perdure/eventlog/codec/signature.hpp"
#include "perdure/eventlog/codec/traits.hpp"
#include "perdure/eventlog/status.hpp"

namespace perdure::codec::detail {

// -- decoding by kind ----

template <class T>
status decode_value(const ref& r, T& out, const path* at);

template <class I>
status decode_integer(const ref& r, I& out, const path* at) {
  using limits = std::numeric_limits<I>;
  if (r.is_int()) {
    std::int64_t v = r.as_int();
    bool fits;
    if constexpr (std::is_signed_v<I>)
      fits = v >= static_cast<std::int64_t>(limits::min())
             && v <= static_cast<std::int64_t>(limits::max());
    else
      fits = v >= 0
             && static_cast<std::uint64_t>(v)
                  <= static_cast<std::uint64_t>(limits::max());
    if (!fits)
      return out_of_range(at, describe<I>(), r);
    out = static_cast<I>(v);
    return {};
  }
  if (r.is_uint()) {
    std::uint64_t v = r.as_uint();
    if (v > static_cast<std::uint64_t>(limits::max()))
      return out_of_range(at, describe<I>(), r);
    out = static_cast<I>(v);
    return {};
  }
  return mismatch(at, describe<I>(), r);
}

template <class F>
status decode_float(const ref& r, F& out, const path* at) {
  if (r.is_float()) {
    double d = r.as_float();
    if constexpr (sizeof(F) == 4)
      if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max())
        return out_of_range(at, describe<F>(), r);
    out = static_cast<F>(d);
  } else if (r.is_int()) {
    out = static_cast<F>(r.as_int());
  } else if (r.is_uint()) {
    out = static_cast<F>(r.as_uint());
  } else {
    return mismatch(at, describe<F>(), r);
  }
  return {};
}

/// Decodes each element of `s` and hands it to `add`.
template <class E, class Add>
status decode_elements(const seq& s, const path* at, Add&& add) {
  for (std::size_t i = 0; i < s.size; ++i) {
    path p{at, path::step::index, {}, i};
    E e{};
    if (auto st = decode_value(s[i], e, &p); !st)
      return st;
    add(std::move(e));
  }
  return {};
}

template <class E>
constexpr fb_type scalar_type() noexcept {
  if constexpr (std::is_floating_point_v<E>)
    return flexbuffers::FBT_FLOAT;
  else if constexpr (std::is_signed_v<E>)
    return flexbuffers::FBT_INT;
  else
    return flexbuffers::FBT_UINT;
}

template <class T>
status decode_map(const ref& r, T& out, const path* at) {
  using key_type = typename T::key_type;
  using mapped = typename T::mapped_type;
  out.clear();
  if constexpr (std::is_same_v<key_type, std::string>) {
    map_view m;
    if (as_map(r, m)) {
      for (std::size_t i = 0; i < m.values.size; ++i) {
        std::string_view key = m.key(i);
        path p{at, path::step::key, key, i};
        mapped value{};
        if (auto st = decode_value(m.values[i], value, &p); !st)
          return st;
        out.emplace_hint(out.end(), std::string{key}, std::move(value));
      }
      return {};
    }
  }
  seq s;
  if (!as_seq(r, s))
    return mismatch(at, describe<T>(), r);
  for (std::size_t i = 0; i < s.size; ++i) {
    path p{at, path::step::index, {}, i};
    seq entry;
    if (!as_seq(s[i], entry) || entry.size != 2)
      return mismatch(&p, "[key, value] pair", s[i]);
    path pk{&p, path::step::index, {}, 0};
    path pv{&p, path::step::index, {}, 1};
    key_type key{};
    mapped value{};
    if (auto st = decode_value(entry[0], key, &pk); !st)
      return st;
    if (auto st = decode_value(entry[1], value, &pv); !st)
      return st;
    out.insert_or_assign(std::move(key), std::move(value));
  }
  return {};
}

template <std::size_t I, class Tuple>
bool decode_tuple_element(const seq& s, Tuple& out, const path* at,
                          status& st) {
  path p{at, path::step::index, {}, I};
  st = decode_value(s[I], std::get<I>(out), &p);
  return st.is_ok();
}

template <class V, std::size_t I>
status decode_alternative(const ref& r, V& out, const path* at) {
  std::variant_alternative_t<I, V> value{};
  if (auto st = decode_value(r, value, at); !st)
    return st;
  out.template emplace<I>(std::move(value));
  return {};
}

template <class V>
status decode_variant(const ref& r, V& out, const path* at) {
  constexpr std::size_t n = std::variant_size_v<V>;
  seq s;
  if (!as_seq(r, s) || s.size != 2)
    return mismatch(at, describe<V>() + " as [index, value]", r);
  path pi{at, path::step::index, {}, 0};
  std::size_t index = 0;
  if (auto st = decode_integer(s[0], index, &pi); !st)
    return st;
  if (index >= n)
    return out_of_range(&pi, "alternative index < " + std::to_string(n), s[0]);
  path pv{at, path::step::index, {}, 1};
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    using fn = status (*)(const ref&, V&, const path*);
    constexpr fn table[] = {&decode_alternative<V, I>...};
    return table[index](s[1], out, &pv);
  }(std::make_index_sequence<n>{});
}

template <class T>
status decode_struct(const ref& r, T& out, const path* at) {
  map_view m;
  if (!as_map(r, m))
    return mismatch(at, describe<T>(), r);
  status st;
  std::apply(
    [&](const auto&... f) {
      [[maybe_unused]] auto one = [&](const auto& fd) {
        ref value;
        if (!m.find(std::string_view{fd.name, fd.size}, value))
          return true; // a missing field keeps its default
        path p{at, path::step::field, std::string_view{fd.name, fd.size}, 0};
        st = decode_value(value, out.*(fd.member), &p);
        return st.is_ok();
      };
      static_cast<void>((one(f) && ...));
    },
    fields_of<T>);
  return st;
}

} // namespace perdure::codec::detail
