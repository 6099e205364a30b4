#pragma once

// Implementation details of perdure/eventlog/codec.hpp: how a C++ type is
// classified, the bounds-free FlexBuffers reader used after a payload passed
// validation, and the encode/decode templates. Include codec.hpp instead.

#include <flatbuffers/flexbuffers.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "perdure/eventlog/status.hpp"

namespace perdure::codec {
struct bytes;
} // namespace perdure::codec

namespace perdure::codec::detail {

static_assert(std::endian::native == std::endian::little,
              "perdure::codec assumes a little-endian host");

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

// -- signatures ----

template <class T>
inline constexpr char type_key = 0;

/// Identity stack of the structs whose signature is being built.
std::vector<const void*>& signature_stack();


template <class T>
inline constexpr auto fields_of = perdure_fields(fields_tag<T>{});

// -- type signatures ----

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

// -- decoding ----

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
