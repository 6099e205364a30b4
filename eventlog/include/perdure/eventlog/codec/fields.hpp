// SPDX-License-Identifier: Apache-2.0
#pragma once

// Implementation detail of perdure/eventlog/codec.hpp (include that):
// what PERDURE_FIELDS declares, the save/load hook concept and the field
// list of a struct.

#include <concepts>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

namespace perdure::codec::detail {

// -- field declarations (PERDURE_FIELDS) ----

/// ADL tag: `perdure_fields(fields_tag<T>)` is found in T's namespace.
template <class T>
struct fields_tag {};

/// One declared member: its name and a pointer to it.
template <class C, class M>
struct field {
  using member_type = M;
  const char* name; ///< NUL-terminated (a string literal)
  std::size_t size;
  M C::*member;
};

template <class C, class M, std::size_t N>
constexpr field<C, M> make_field(const char (&name)[N], M C::*member) noexcept {
  return {name, N - 1, member};
}

template <class T>
concept has_fields = requires { perdure_fields(fields_tag<T>{}); };

template <class T>
concept has_hooks = requires(const T& t) {
  t.perdure_save();
  { T::perdure_load(t.perdure_save()) } -> std::same_as<T>;
};

template <class T>
using saved_t =
  std::remove_cvref_t<decltype(std::declval<const T&>().perdure_save())>;

/// The fields declared for `T` by PERDURE_FIELDS, as a tuple of `field`.
template <class T>
inline constexpr auto fields_of = perdure_fields(fields_tag<T>{});

} // namespace perdure::codec::detail

// Applies `m` to each further argument, comma-separated (up to 256).
#define PERDURE_DETAIL_PARENS ()
#define PERDURE_DETAIL_EXPAND(...)                                           \
  PERDURE_DETAIL_EXPAND3(PERDURE_DETAIL_EXPAND3(                               \
    PERDURE_DETAIL_EXPAND3(PERDURE_DETAIL_EXPAND3(__VA_ARGS__))))
#define PERDURE_DETAIL_EXPAND3(...)                                          \
  PERDURE_DETAIL_EXPAND2(PERDURE_DETAIL_EXPAND2(                               \
    PERDURE_DETAIL_EXPAND2(PERDURE_DETAIL_EXPAND2(__VA_ARGS__))))
#define PERDURE_DETAIL_EXPAND2(...)                                          \
  PERDURE_DETAIL_EXPAND1(PERDURE_DETAIL_EXPAND1(                               \
    PERDURE_DETAIL_EXPAND1(PERDURE_DETAIL_EXPAND1(__VA_ARGS__))))
#define PERDURE_DETAIL_EXPAND1(...) __VA_ARGS__
#define PERDURE_DETAIL_FOR_EACH(m, ...)                                      \
  __VA_OPT__(PERDURE_DETAIL_EXPAND(PERDURE_DETAIL_FOR_EACH_STEP(m, __VA_ARGS__)))
#define PERDURE_DETAIL_FOR_EACH_STEP(m, a, ...)                              \
  m(a) __VA_OPT__(, PERDURE_DETAIL_FOR_EACH_AGAIN PERDURE_DETAIL_PARENS(       \
                      m, __VA_ARGS__))
#define PERDURE_DETAIL_FOR_EACH_AGAIN() PERDURE_DETAIL_FOR_EACH_STEP
#define PERDURE_DETAIL_FIELD(f)                                              \
  ::perdure::codec::detail::make_field(#f, &perdure_self::f)
