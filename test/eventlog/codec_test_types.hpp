// SPDX-License-Identifier: Apache-2.0
#pragma once

// Types and helpers shared by the codec test files: structs of every shape,
// enums, save/load hooks and types the codec must reject.

#include "perdure/eventlog/codec.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace test_types {

struct point {
  int x = 0;
  double y = 0;
  std::vector<std::string> tags;
  bool operator==(const point&) const = default;
};
PERDURE_FIELDS(point, x, y, tags)

struct item {
  std::string name;
  double price = 0;
  bool operator==(const item&) const = default;
};
PERDURE_FIELDS(item, name, price)

struct order {
  std::string id;
  std::vector<item> items;
  bool operator==(const order&) const = default;
};
PERDURE_FIELDS(order, id, items)

// The same order as the program saw it with prices as text.
struct text_item {
  std::string name;
  std::string price;
};
PERDURE_FIELDS(text_item, name, price)
struct text_order {
  std::string id;
  std::vector<text_item> items;
};
PERDURE_FIELDS(text_order, id, items)

struct account_v1 {
  std::string owner;
  std::int64_t balance = 0;
};
PERDURE_FIELDS(account_v1, owner, balance)

struct account_v2 {
  std::string owner;
  std::int64_t balance = 0;
  std::string currency = "EUR";
};
PERDURE_FIELDS(account_v2, owner, balance, currency)

struct tree {
  std::string label;
  std::vector<tree> children;
  bool operator==(const tree&) const = default;
};
PERDURE_FIELDS(tree, label, children)

struct empty_struct {
  bool operator==(const empty_struct&) const = default;
};
PERDURE_FIELDS(empty_struct)

enum class color : std::uint8_t { red, green, blue };
enum legacy : int { legacy_a = -3, legacy_b = 7 };

struct inner {
  std::int32_t id = 0;
  std::optional<std::string> label;
  std::vector<double> weights;
  bool operator==(const inner&) const = default;
};
PERDURE_FIELDS(inner, id, label, weights)

// More than 16 fields of every supported kind, for the property test.
struct sample {
  bool flag = false;
  std::int8_t i8 = 0;
  std::int16_t i16 = 0;
  std::int32_t i32 = 0;
  std::int64_t i64 = 0;
  std::uint8_t u8 = 0;
  std::uint16_t u16 = 0;
  std::uint32_t u32 = 0;
  std::uint64_t u64 = 0;
  float f32 = 0;
  double f64 = 0;
  std::string text;
  perdure::codec::bytes blob;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
  std::map<std::string, inner> by_name;
  std::unordered_map<std::int32_t, std::string> by_id;
  std::optional<inner> maybe;
  std::tuple<int, std::string, bool> triple;
  std::variant<std::monostate, int, std::string, inner> choice;
  color hue = color::red;
  std::set<std::uint16_t> small;
  std::array<float, 3> xyz{};
  std::vector<bool> bits;
  std::vector<std::vector<std::uint8_t>> nested;
  std::pair<char, std::vector<std::byte>> tagged;
  bool operator==(const sample&) const = default;
};
PERDURE_FIELDS(sample, flag, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64,
               text, blob, ints, strings, by_name, by_id, maybe, triple,
               choice, hue, small, xyz, bits, nested, tagged)

// Saved as its text form through the hooks.
class celsius {
 public:
  celsius() = default;
  explicit celsius(double d) : degrees_(d) {
  }
  std::string perdure_save() const {
    return std::to_string(degrees_);
  }
  static celsius perdure_load(const std::string& text) {
    if (text.empty())
      throw std::invalid_argument("empty temperature");
    return celsius{std::stod(text)};
  }
  double degrees() const {
    return degrees_;
  }

 private:
  double degrees_ = 0;
};

// No default constructor: decodable only at the top level, through the hook.
struct ticket {
  explicit ticket(int n) : number(n) {
  }
  int number;
  int perdure_save() const {
    return number;
  }
  static ticket perdure_load(int n) {
    return ticket{n};
  }
};

// A save hook that itself encodes (the builder must be re-entrant).
struct wrapped {
  int value = 0;
  std::string perdure_save() const {
    return perdure::codec::encode(value);
  }
  static wrapped perdure_load(const std::string& inner_bytes) {
    return wrapped{perdure::codec::decode<int>(inner_bytes).value()};
  }
};

// Reads values written by a FlexBuffers builder in indirect / fixed form.
struct indirect_view {
  std::int64_t ii = 0;
  std::uint64_t iu = 0;
  double id = 0;
  std::array<int, 2> fixed{};
  std::vector<std::string> keys;
};
PERDURE_FIELDS(indirect_view, ii, iu, id, fixed, keys)

struct no_fields {
  int x = 0;
};

struct not_default_constructible {
  explicit not_default_constructible(int v) : x(v) {
  }
  int x;
};
PERDURE_FIELDS(not_default_constructible, x)

} // namespace test_types

namespace test_types {

template <class T>
T round_trip(const T& value) {
  auto bytes = perdure::codec::encode(value);
  auto decoded = perdure::codec::decode<T>(bytes);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.as_status().to_string());
  return std::move(decoded).value();
}

template <class T>
perdure::status decode_error(std::string_view bytes) {
  auto decoded = perdure::codec::decode<T>(bytes);
  REQUIRE_FALSE(decoded.has_value());
  return decoded.error();
}

inline std::string json(std::string_view bytes) {
  auto j = perdure::codec::to_json(bytes);
  REQUIRE_MESSAGE(j.has_value(), j.as_status().to_string());
  return *j;
}

template <class T>
std::string json_of(const T& value) {
  return json(perdure::codec::encode(value));
}

} // namespace test_types
