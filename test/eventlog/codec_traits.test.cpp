// SPDX-License-Identifier: Apache-2.0
// Compile-time traits (what is encodable and decodable) and type signatures.

#include "codec_test_types.hpp"

#include <functional>

using namespace perdure;
using namespace test_types;

// -- compile-time traits and signatures ----

TEST_CASE("pointers, raw arrays and callables are not encodable") {
  static_assert(!codec::is_encodable_v<int*>);
  static_assert(!codec::is_encodable_v<void*>);
  static_assert(!codec::is_encodable_v<const point*>);
  static_assert(!codec::is_encodable_v<int[3]>);
  static_assert(!codec::is_encodable_v<std::function<void()>>);
  static_assert(!codec::is_encodable_v<long double>);
  static_assert(!codec::is_encodable_v<no_fields>);
  static_assert(!codec::is_encodable_v<std::vector<int*>>);
  static_assert(!codec::is_encodable_v<std::map<std::string, void*>>);
  static_assert(!codec::is_encodable_v<std::optional<std::optional<int>>>);
  static_assert(!codec::is_encodable_v<std::tuple<int, std::function<int()>>>);

  static_assert(codec::is_encodable_v<point>);
  static_assert(codec::is_encodable_v<tree>);
  static_assert(codec::is_encodable_v<const char*>);
  static_assert(codec::is_encodable_v<std::string_view>);
  static_assert(codec::is_encodable_v<celsius>);
  static_assert(codec::is_encodable_v<std::variant<std::monostate, point>>);

  static_assert(!codec::is_decodable_v<std::string_view>);
  static_assert(!codec::is_decodable_v<const char*>);
  static_assert(!codec::is_decodable_v<not_default_constructible>);
  static_assert(!codec::is_decodable_v<std::vector<ticket>>);
  static_assert(codec::is_decodable_v<ticket>);
  static_assert(codec::is_decodable_v<sample>);
  CHECK(codec::is_encodable_v<not_default_constructible>);
}

TEST_CASE("type signatures are exact and distinct for distinct types") {
  CHECK(codec::type_signature<int>() == "i32");
  CHECK(codec::type_signature<std::string>() == "str");
  CHECK(codec::type_signature<std::vector<int>>() == "vec<i32>");
  CHECK(codec::type_signature<std::map<std::string, double>>() == "map<str,f64>");
  CHECK(codec::type_signature<std::optional<bool>>() == "opt<bool>");
  CHECK(codec::type_signature<std::tuple<int, std::string>>() == "tup<i32,str>");
  CHECK(codec::type_signature<std::pair<int, std::string>>() == "tup<i32,str>");
  CHECK(codec::type_signature<codec::bytes>() == "bytes");
  CHECK(codec::type_signature<color>() == "enum:u8");
  CHECK(codec::type_signature<legacy>() == "enum:i32");
  CHECK(codec::type_signature<point>()
        == "struct{tags:vec<str>,x:i32,y:f64}");
  CHECK(codec::type_signature<tree>()
        == "struct{children:vec<rec:1>,label:str}");
  CHECK(codec::type_signature<std::variant<std::monostate, int>>()
        == "var<null,i32>");
  CHECK(codec::type_signature<std::array<float, 3>>() == "arr<f32,3>");
  CHECK(codec::type_signature<std::unordered_set<std::uint16_t>>() == "set<u16>");
  CHECK(codec::type_signature<celsius>() == "str");
  CHECK(codec::type_signature<char>() == "char");
  CHECK(codec::type_signature<const std::int64_t>() == "i64");

  std::set<std::string> all{
    codec::type_signature<bool>(),          codec::type_signature<char>(),
    codec::type_signature<std::int8_t>(),   codec::type_signature<std::uint8_t>(),
    codec::type_signature<std::int16_t>(),  codec::type_signature<std::uint16_t>(),
    codec::type_signature<std::int32_t>(),  codec::type_signature<std::uint32_t>(),
    codec::type_signature<std::int64_t>(),  codec::type_signature<std::uint64_t>(),
    codec::type_signature<float>(),         codec::type_signature<double>(),
    codec::type_signature<std::string>(),   codec::type_signature<codec::bytes>(),
    codec::type_signature<std::vector<int>>(),
    codec::type_signature<std::vector<std::uint8_t>>(),
    codec::type_signature<std::set<int>>(),
    codec::type_signature<std::optional<int>>(),
    codec::type_signature<std::map<int, int>>(),
    codec::type_signature<std::map<std::string, int>>(),
    codec::type_signature<std::tuple<int, int>>(),
    codec::type_signature<std::variant<int, std::string>>(),
    codec::type_signature<std::monostate>(),
    codec::type_signature<color>(),
    codec::type_signature<point>(),
    codec::type_signature<item>(),
    codec::type_signature<account_v1>(),
    codec::type_signature<account_v2>(),
    codec::type_signature<inner>(),
    codec::type_signature<sample>(),
  };
  CHECK(all.size() == 30);
}
