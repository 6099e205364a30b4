// SPDX-License-Identifier: Apache-2.0
#pragma once

// Implementation detail of perdure/eventlog/codec.hpp (include that): the
// stable type signatures of `type_signature<T>` and the type names of error
// messages.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "perdure/eventlog/codec/traits.hpp"

namespace perdure::codec::detail {

// -- signatures ----

template <class T>
inline constexpr char type_key = 0;

/// Identity stack of the structs whose signature is being built.
std::vector<const void*>& signature_stack();

template <class T>
void append_signature(std::string& out);

template <class T>
struct list_signature;
template <template <class...> class Tmpl, class... A>
struct list_signature<Tmpl<A...>> {
  static void run(std::string& out) {
    bool first = true;
    ((out += first ? "" : ",", first = false,
      append_signature<std::remove_cv_t<A>>(out)),
     ...);
  }
};

template <class I>
constexpr const char* integer_name() noexcept {
  if constexpr (std::is_same_v<I, char>)
    return "char";
  else if constexpr (std::is_same_v<I, wchar_t>)
    return "wchar";
  else if constexpr (std::is_same_v<I, char8_t>)
    return "char8";
  else if constexpr (std::is_same_v<I, char16_t>)
    return "char16";
  else if constexpr (std::is_same_v<I, char32_t>)
    return "char32";
  else {
    constexpr const char* names[2][4] = {{"u8", "u16", "u32", "u64"},
                                         {"i8", "i16", "i32", "i64"}};
    constexpr int log2 = std::countr_zero(sizeof(I));
    return names[std::is_signed_v<I> ? 1 : 0][log2];
  }
}

/// Pops the struct identity pushed for a recursive signature.
struct signature_guard {
  explicit signature_guard(const void* id) {
    signature_stack().push_back(id);
  }
  ~signature_guard() {
    signature_stack().pop_back();
  }
};

template <class T>
void append_struct_signature(std::string& out) {
  auto& stack = signature_stack();
  const void* id = &type_key<T>;
  for (std::size_t i = stack.size(); i-- > 0;) {
    if (stack[i] == id) { // a recursive struct: refer to the enclosing level
      out += "rec:";
      out += std::to_string(stack.size() - i);
      return;
    }
  }
  signature_guard guard{id};
  std::vector<std::pair<std::string_view, std::string>> parts;
  std::apply(
    [&](const auto&... f) {
      (parts.emplace_back(
         std::string_view{f.name, f.size},
         [&] {
           std::string s;
           using member = std::remove_cvref_t<decltype(std::declval<T&>().*(f.member))>;
           append_signature<member>(s);
           return s;
         }()),
       ...);
    },
    fields_of<T>);
  std::sort(parts.begin(), parts.end());
  out += "struct{";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i)
      out += ',';
    out += parts[i].first;
    out += ':';
    out += parts[i].second;
  }
  out += '}';
}

template <class T>
void append_signature(std::string& out) {
  constexpr kind k = kind_of<T>;
  if constexpr (k == kind::hooked) {
    append_signature<saved_t<T>>(out);
  } else if constexpr (k == kind::boolean) {
    out += "bool";
  } else if constexpr (k == kind::sint || k == kind::uint) {
    out += integer_name<T>();
  } else if constexpr (k == kind::floating) {
    out += sizeof(T) == 4 ? "f32" : "f64";
  } else if constexpr (k == kind::enumeration) {
    out += "enum:";
    append_signature<std::underlying_type_t<T>>(out);
  } else if constexpr (k == kind::string || k == kind::string_view
                       || k == kind::c_string || k == kind::char_array) {
    out += "str";
  } else if constexpr (k == kind::blob) {
    out += "bytes";
  } else if constexpr (k == kind::sequence || k == kind::set
                       || k == kind::optional) {
    out += k == kind::sequence ? "vec<" : k == kind::set ? "set<" : "opt<";
    append_signature<std::remove_cv_t<typename T::value_type>>(out);
    out += '>';
  } else if constexpr (k == kind::array) {
    out += "arr<";
    append_signature<std::remove_cv_t<typename T::value_type>>(out);
    out += ',';
    out += std::to_string(std::tuple_size_v<T>);
    out += '>';
  } else if constexpr (k == kind::map) {
    out += "map<";
    append_signature<typename T::key_type>(out);
    out += ',';
    append_signature<typename T::mapped_type>(out);
    out += '>';
  } else if constexpr (k == kind::tuple || k == kind::variant) {
    out += k == kind::tuple ? "tup<" : "var<";
    list_signature<T>::run(out);
    out += '>';
  } else if constexpr (k == kind::null) {
    out += "null";
  } else if constexpr (k == kind::fields) {
    append_struct_signature<T>(out);
  } else {
    out += "?";
  }
}

/// The name of `T` in error messages: a struct's declared name, otherwise
/// its signature.
template <class T>
std::string describe() {
  if constexpr (kind_of<T> == kind::fields) {
    return perdure_type_name(fields_tag<T>{});
  } else {
    std::string s;
    append_signature<std::remove_cv_t<T>>(s);
    return s;
  }
}

} // namespace perdure::codec::detail
