// SPDX-License-Identifier: Apache-2.0
// Round trips of every supported kind of value through encode and decode.

#include "codec_test_types.hpp"

#include <cmath>
#include <limits>

using namespace perdure;
using namespace test_types;

// -- round trips ----

TEST_CASE("bools, every integer width and floats round-trip") {
  CHECK(round_trip(true) == true);
  CHECK(round_trip(false) == false);
  CHECK(round_trip(std::numeric_limits<std::int8_t>::min()) == -128);
  CHECK(round_trip(std::numeric_limits<std::int16_t>::max()) == 32767);
  CHECK(round_trip(std::numeric_limits<std::int32_t>::min())
        == std::numeric_limits<std::int32_t>::min());
  CHECK(round_trip(std::numeric_limits<std::int64_t>::min())
        == std::numeric_limits<std::int64_t>::min());
  CHECK(round_trip(std::numeric_limits<std::uint8_t>::max()) == 255);
  CHECK(round_trip(std::numeric_limits<std::uint64_t>::max())
        == std::numeric_limits<std::uint64_t>::max());
  CHECK(round_trip('x') == 'x');
  CHECK(round_trip(char32_t{0x1F600}) == char32_t{0x1F600});
  CHECK(round_trip(0.1f) == 0.1f);
  CHECK(round_trip(0.1) == 0.1);
  CHECK(round_trip(-0.0) == 0.0);
  CHECK(std::signbit(round_trip(-0.0)));
  CHECK(round_trip(std::numeric_limits<double>::infinity())
        == std::numeric_limits<double>::infinity());
  CHECK(round_trip(std::numeric_limits<double>::denorm_min())
        == std::numeric_limits<double>::denorm_min());
  CHECK(std::isnan(round_trip(std::nan(""))));
}

TEST_CASE("strings round-trip with NUL bytes, UTF-8 and any length") {
  CHECK(round_trip(std::string{}) == "");
  CHECK(round_trip(std::string{"a\0b", 3}) == std::string{"a\0b", 3});
  CHECK(round_trip(std::string{"grüße 🌍"}) == "grüße 🌍");
  std::string big(100000, 'z');
  CHECK(round_trip(big) == big);
}

TEST_CASE("string views, C strings and char arrays encode as strings") {
  CHECK(*codec::decode<std::string>(codec::encode(std::string_view{"view"}))
        == "view");
  const char* c_string = "pointer";
  CHECK(*codec::decode<std::string>(codec::encode(c_string)) == "pointer");
  CHECK(*codec::decode<std::string>(codec::encode("literal")) == "literal");
  std::string_view prefix = std::string_view{"abcdef"}.substr(0, 3);
  CHECK(*codec::decode<std::string>(codec::encode(prefix)) == "abc");
  const char unterminated[3] = {'x', 'y', 'z'};
  CHECK(*codec::decode<std::string>(codec::encode(unterminated)) == "xyz");
  CHECK(json_of(static_cast<const char*>(nullptr)) == "null");
}

TEST_CASE("bytes and vectors of std::byte are blobs rendered as base64") {
  codec::bytes raw{std::string{"\x00\x01\xfe\xff", 4}};
  CHECK(round_trip(raw) == raw);
  CHECK(json_of(raw) == R"({"$bytes":"AAH+/w=="})");
  std::vector<std::byte> v{std::byte{'M'}, std::byte{'a'}};
  CHECK(round_trip(v) == v);
  CHECK(json_of(v) == R"({"$bytes":"TWE="})");
  CHECK(json_of(codec::bytes{}) == R"({"$bytes":""})");
  CHECK(json_of(codec::bytes{"Man"}) == R"({"$bytes":"TWFu"})");
}

TEST_CASE("vectors, arrays and sets round-trip") {
  CHECK(round_trip(std::vector<int>{}) == std::vector<int>{});
  CHECK(round_trip(std::vector<int>{1, -2, 3}) == std::vector<int>{1, -2, 3});
  CHECK(round_trip(std::vector<bool>{true, false, true})
        == std::vector<bool>{true, false, true});
  CHECK(round_trip(std::vector<bool>{}).empty());
  std::vector<std::uint8_t> many(1000);
  for (std::size_t i = 0; i < many.size(); ++i)
    many[i] = static_cast<std::uint8_t>(i * 7);
  CHECK(round_trip(many) == many);
  CHECK(round_trip(std::vector<double>{0.5, -1e300})
        == std::vector<double>{0.5, -1e300});
  CHECK(round_trip(std::vector<std::string>{"a", "", "c"})
        == std::vector<std::string>{"a", "", "c"});
  CHECK(round_trip(std::array<int, 3>{4, 5, 6}) == std::array<int, 3>{4, 5, 6});
  CHECK(round_trip(std::array<std::string, 2>{"x", "y"})
        == std::array<std::string, 2>{"x", "y"});
  CHECK(round_trip(std::set<std::string>{"b", "a"})
        == std::set<std::string>{"a", "b"});
  CHECK(round_trip(std::unordered_set<int>{3, 1, 2})
        == std::unordered_set<int>{1, 2, 3});
  CHECK(round_trip(std::vector<std::vector<int>>{{1}, {}, {2, 3}})
        == std::vector<std::vector<int>>{{1}, {}, {2, 3}});
  CHECK(round_trip(std::vector<char>{'a', 'b'}) == std::vector<char>{'a', 'b'});
  CHECK(round_trip(std::array<char, 2>{'x', 'y'}) == std::array<char, 2>{'x', 'y'});
  CHECK(round_trip(std::vector<std::optional<int>>{1, std::nullopt})
        == std::vector<std::optional<int>>{1, std::nullopt});
  CHECK(json_of(std::vector<bool>{true, false}) == "[true,false]");
  CHECK(json_of(std::vector<std::uint16_t>{1, 65535}) == "[1,65535]");
  CHECK(json_of(std::vector<float>{0.1f}) == "[0.1]");
}

TEST_CASE("maps with string keys are objects, other keys pair vectors") {
  std::map<std::string, double> prices{{"apple", 1.5}, {"pear", 2}};
  CHECK(round_trip(prices) == prices);
  CHECK(json_of(prices) == R"({"apple":1.5,"pear":2.0})");

  std::unordered_map<std::string, int> counts{{"b", 2}, {"a", 1}};
  CHECK(round_trip(counts) == counts);
  CHECK(json_of(counts) == R"({"a":1,"b":2})");

  std::map<int, std::string> names{{2, "two"}, {-1, "minus one"}};
  CHECK(round_trip(names) == names);
  CHECK(json_of(names) == R"([[-1,"minus one"],[2,"two"]])");

  std::map<std::string, int> odd_keys{{std::string{"a\0b", 3}, 1}, {"c", 2}};
  CHECK(round_trip(odd_keys) == odd_keys);

  std::unordered_map<std::uint64_t, std::vector<int>> nested{{7, {1, 2}}};
  CHECK(round_trip(nested) == nested);
}

TEST_CASE("optional, pair, tuple, variant, monostate and enums round-trip") {
  CHECK(round_trip(std::optional<int>{}) == std::nullopt);
  CHECK(round_trip(std::optional<int>{5}) == 5);
  CHECK(json_of(std::optional<int>{}) == "null");
  CHECK(round_trip(std::pair<int, std::string>{1, "one"})
        == std::pair<int, std::string>{1, "one"});
  CHECK(round_trip(std::tuple<>{}) == std::tuple<>{});
  auto t = std::tuple<int, std::string, bool, double>{1, "x", true, 2.5};
  CHECK(round_trip(t) == t);
  CHECK(json_of(t) == R"([1,"x",true,2.5])");

  using var = std::variant<std::monostate, int, std::string>;
  CHECK(round_trip(var{}) == var{});
  CHECK(round_trip(var{7}) == var{7});
  CHECK(round_trip(var{"seven"}) == var{"seven"});
  CHECK(json_of(var{"seven"}) == R"([2,"seven"])");
  CHECK(round_trip(std::monostate{}) == std::monostate{});

  CHECK(round_trip(color::blue) == color::blue);
  CHECK(json_of(color::blue) == "2");
  CHECK(round_trip(legacy_a) == legacy_a);
}

TEST_CASE("a struct round-trips and renders its field names as JSON") {
  point p{3, 2.5, {"a", "b"}};
  CHECK(round_trip(p) == p);
  CHECK(json_of(p) == R"({"tags":["a","b"],"x":3,"y":2.5})");
  CHECK(round_trip(empty_struct{}) == empty_struct{});
  CHECK(json_of(empty_struct{}) == "{}");
}

TEST_CASE("nested and recursive structs round-trip") {
  order o{"o-1", {{"tea", 3.5}, {"cake", 4}}};
  CHECK(round_trip(o) == o);
  CHECK(json_of(o)
        == R"({"id":"o-1","items":[{"name":"tea","price":3.5},)"
           R"({"name":"cake","price":4.0}]})");
  tree t{"root", {{"a", {{"a1", {}}}}, {"b", {}}}};
  CHECK(round_trip(t) == t);
}

TEST_CASE("types with save/load hooks are encoded as their saved form") {
  CHECK(round_trip(celsius{21.5}).degrees() == 21.5);
  CHECK(json_of(celsius{21.5}) == R"("21.500000")");
  CHECK(round_trip(std::vector<celsius>{celsius{1}, celsius{2}})[1].degrees()
        == 2);

  auto t = codec::decode<ticket>(codec::encode(ticket{42}));
  REQUIRE(t.has_value());
  CHECK(t->number == 42);

  CHECK(round_trip(wrapped{17}).value == 17);

  auto failed = decode_error<celsius>(codec::encode(std::string{}));
  CHECK(failed.code() == errc::type_mismatch);
  CHECK(failed.message() == "perdure_load of str at $ failed: empty temperature");
  auto nested_failure =
    decode_error<std::vector<celsius>>(codec::encode(std::vector<std::string>{"1", ""}));
  CHECK(nested_failure.message()
        == "perdure_load of str at $[1] failed: empty temperature");
}

TEST_CASE("keys repeated across a container are stored once") {
  static_assert(!codec::detail::repeats_keys<point>());
  static_assert(!codec::detail::repeats_keys<std::map<std::string, int>>());
  static_assert(codec::detail::repeats_keys<std::vector<point>>());
  static_assert(codec::detail::repeats_keys<order>());
  static_assert(codec::detail::repeats_keys<tree>());
  static_assert(codec::detail::repeats_keys<sample>());
  static_assert(codec::detail::repeats_keys<
                std::optional<std::tuple<int, std::vector<item>>>>());
  static_assert(!codec::detail::repeats_keys<std::tuple<int, item>>());
  std::vector<item> items(50, item{"n", 1});
  auto one = codec::encode(items[0]).size();
  auto all = codec::encode(items).size();
  CHECK(all < 50 * (one - std::string_view{"name\0price\0"}.size()));
  CHECK(round_trip(items) == items);
}

TEST_CASE("encode_to composes values into one builder") {
  flexbuffers::Builder b;
  auto start = b.StartVector();
  codec::encode_to(b, point{1, 2, {}});
  codec::encode_to(b, std::string{"note"});
  b.EndVector(start, false, false);
  b.Finish();
  std::string bytes(reinterpret_cast<const char*>(b.GetBuffer().data()),
                    b.GetBuffer().size());
  auto decoded = codec::decode<std::tuple<point, std::string>>(bytes);
  REQUIRE(decoded.has_value());
  CHECK(std::get<0>(*decoded) == point{1, 2, {}});
  CHECK(std::get<1>(*decoded) == "note");
}

TEST_CASE("decoding works on a payload at an odd address") {
  std::string padded = "x" + codec::encode(std::vector<double>{1.5, 2.5});
  auto decoded =
    codec::decode<std::vector<double>>(std::string_view{padded}.substr(1));
  REQUIRE(decoded.has_value());
  CHECK(*decoded == std::vector<double>{1.5, 2.5});
}
