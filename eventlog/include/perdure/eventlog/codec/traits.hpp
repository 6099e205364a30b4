// SPDX-License-Identifier: Apache-2.0
#pragma once

// Implementation detail of perdure/eventlog/codec.hpp (include that): how a
// C++ type is classified and whether it can be encoded or decoded.

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "perdure/eventlog/codec/fields.hpp"

namespace perdure::codec {
struct bytes;
} // namespace perdure::codec

namespace perdure::codec::detail {

// -- classification ----

template <class T, template <class...> class Tmpl>
inline constexpr bool is_spec_v = false;
template <template <class...> class Tmpl, class... A>
inline constexpr bool is_spec_v<Tmpl<A...>, Tmpl> = true;

template <class T>
inline constexpr bool is_std_array_v = false;
template <class E, std::size_t N>
inline constexpr bool is_std_array_v<std::array<E, N>> = true;

enum class kind {
  unsupported, hooked, boolean, sint, uint, floating, enumeration, string,
  string_view, c_string, char_array, blob, sequence, array, set, map,
  optional, tuple, variant, null, fields,
};

template <class T>
consteval kind classify() {
  if constexpr (has_hooks<T>)
    return kind::hooked;
  else if constexpr (std::is_same_v<T, bool>)
    return kind::boolean;
  else if constexpr (std::is_integral_v<T>)
    return std::is_signed_v<T> ? kind::sint : kind::uint;
  else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
    return kind::floating;
  else if constexpr (std::is_enum_v<T>)
    return kind::enumeration;
  else if constexpr (std::is_same_v<T, std::string>)
    return kind::string;
  else if constexpr (std::is_same_v<T, std::string_view>)
    return kind::string_view;
  else if constexpr (std::is_same_v<T, const char*>
                     || std::is_same_v<T, char*>)
    return kind::c_string;
  else if constexpr (std::is_array_v<T>
                     && std::is_same_v<std::remove_cv_t<std::remove_extent_t<T>>,
                                       char>)
    return kind::char_array;
  else if constexpr (std::is_same_v<T, bytes>
                     || std::is_same_v<T, std::vector<std::byte>>)
    return kind::blob;
  else if constexpr (is_spec_v<T, std::vector>)
    return kind::sequence;
  else if constexpr (is_std_array_v<T>)
    return kind::array;
  else if constexpr (is_spec_v<T, std::set> || is_spec_v<T, std::unordered_set>)
    return kind::set;
  else if constexpr (is_spec_v<T, std::map> || is_spec_v<T, std::unordered_map>)
    return kind::map;
  else if constexpr (is_spec_v<T, std::optional>)
    return kind::optional;
  else if constexpr (is_spec_v<T, std::tuple> || is_spec_v<T, std::pair>)
    return kind::tuple;
  else if constexpr (is_spec_v<T, std::variant>)
    return kind::variant;
  else if constexpr (std::is_same_v<T, std::monostate>)
    return kind::null;
  else if constexpr (has_fields<T>)
    return kind::fields;
  else
    return kind::unsupported;
}

template <class T>
inline constexpr kind kind_of = classify<std::remove_cv_t<T>>();

template <class T>
consteval bool check(bool decoding);

template <class T>
struct all_check;
template <template <class...> class Tmpl, class... A>
struct all_check<Tmpl<A...>> {
  static consteval bool run([[maybe_unused]] bool decoding) {
    return (check<std::remove_cv_t<A>>(decoding) && ...);
  }
};

/// Whether `T` can be encoded (`decoding == false`) or decoded. Structs are
/// checked shallowly (so recursive structs work); their fields are checked
/// where the struct is encoded or decoded.
template <class T>
consteval bool check(bool decoding) {
  constexpr kind k = classify<T>();
  if (decoding && !std::is_default_constructible_v<T>)
    return false;
  if constexpr (k == kind::unsupported) {
    return false;
  } else if constexpr (k == kind::hooked) {
    using saved = saved_t<T>;
    if constexpr (std::is_same_v<saved, T>)
      return false;
    else
      return (!decoding || std::is_move_assignable_v<T>)
             && check<saved>(decoding);
  } else if constexpr (k == kind::string_view || k == kind::c_string
                       || k == kind::char_array) {
    return !decoding;
  } else if constexpr (k == kind::sequence || k == kind::array
                       || k == kind::set) {
    return check<std::remove_cv_t<typename T::value_type>>(decoding);
  } else if constexpr (k == kind::map) {
    return check<typename T::key_type>(decoding)
           && check<typename T::mapped_type>(decoding);
  } else if constexpr (k == kind::optional) {
    using inner = std::remove_cv_t<typename T::value_type>;
    // An empty inner value would encode as null, like the empty outer one.
    return kind_of<inner> != kind::optional && kind_of<inner> != kind::null
           && check<inner>(decoding);
  } else if constexpr (k == kind::tuple || k == kind::variant) {
    return all_check<T>::run(decoding);
  } else {
    return true;
  }
}

template <class T>
inline constexpr bool encodable_v = check<std::remove_cv_t<T>>(false);
template <class T>
consteval bool check_decodable() {
  // At the top level a hooked type is built by `perdure_load` alone.
  if constexpr (classify<T>() == kind::hooked)
    return !std::is_same_v<saved_t<T>, T> && check<saved_t<T>>(true);
  else
    return check<T>(true);
}

template <class T>
inline constexpr bool decodable_v = check_decodable<std::remove_cv_t<T>>();

} // namespace perdure::codec::detail