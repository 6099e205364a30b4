#include "perdure/eventlog/codec.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>

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

using namespace perdure;
using namespace test_types;

namespace {

template <class T>
T round_trip(const T& value) {
  auto bytes = codec::encode(value);
  auto decoded = codec::decode<T>(bytes);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.as_status().to_string());
  return std::move(decoded).value();
}

template <class T>
status decode_error(std::string_view bytes) {
  auto decoded = codec::decode<T>(bytes);
  REQUIRE_FALSE(decoded.has_value());
  return decoded.error();
}

std::string json(std::string_view bytes) {
  auto j = codec::to_json(bytes);
  REQUIRE_MESSAGE(j.has_value(), j.as_status().to_string());
  return *j;
}

template <class T>
std::string json_of(const T& value) {
  return json(codec::encode(value));
}

} // namespace

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

// -- errors ----

TEST_CASE("a field of the wrong type is a type mismatch naming its path") {
  flexbuffers::Builder b;
  b.Map([&] {
    b.String("id", "o-1");
    b.Vector("items", [&] {
      for (double price : {1.0, 2.0, 3.0})
        b.Map([&] { b.Double("price", price); });
      b.Map([&] { b.String("price", "cheap"); });
    });
  });
  b.Finish();
  std::string bytes(reinterpret_cast<const char*>(b.GetBuffer().data()),
                    b.GetBuffer().size());
  auto st = decode_error<order>(bytes);
  CHECK(st.code() == errc::type_mismatch);
  CHECK(st.message() == R"(expected f64 at $.items[3].price, found str "cheap")");

  text_order o{"o-1", {{"a", "1"}}};
  CHECK(decode_error<order>(codec::encode(o)).message()
        == R"(expected f64 at $.items[0].price, found str "1")");

  auto wrong_root = decode_error<order>(codec::encode(std::vector<int>{1}));
  CHECK(wrong_root.message() == "expected order at $, found vector of 1");

  std::map<std::string, std::vector<int>> m{{"k", {1, 2}}};
  auto in_map =
    decode_error<std::map<std::string, std::vector<std::string>>>(codec::encode(m));
  CHECK(in_map.message() == R"(expected str at $["k"][0], found int 1)");

  auto in_pairs = decode_error<std::map<int, int>>(
    codec::encode(std::map<int, std::string>{{1, "x"}}));
  CHECK(in_pairs.message() == R"(expected i32 at $[0][1], found str "x")");

  auto nested_opt = decode_error<std::optional<point>>(codec::encode(true));
  CHECK(nested_opt.message() == "expected point at $, found bool true");
}

TEST_CASE("decoding an integer checks its range") {
  auto st = decode_error<std::uint8_t>(codec::encode(300));
  CHECK(st.code() == errc::type_mismatch);
  CHECK(st.message() == "expected u8 at $, found int 300 (out of range)");
  CHECK(decode_error<std::uint32_t>(codec::encode(-1)).code()
        == errc::type_mismatch);
  CHECK(decode_error<std::int32_t>(
          codec::encode(std::int64_t{1} << 40)).code() == errc::type_mismatch);
  CHECK(decode_error<std::int64_t>(
          codec::encode(std::numeric_limits<std::uint64_t>::max())).code()
        == errc::type_mismatch);
  CHECK(decode_error<float>(codec::encode(1e300)).code() == errc::type_mismatch);
  CHECK(*codec::decode<std::uint8_t>(codec::encode(std::int64_t{255})) == 255);
  CHECK(*codec::decode<std::int8_t>(codec::encode(std::uint64_t{127})) == 127);
  CHECK(*codec::decode<double>(codec::encode(3)) == 3.0);
  CHECK(decode_error<int>(codec::encode(3.0)).code() == errc::type_mismatch);
}

TEST_CASE("sizes, variant indices and nulls are checked") {
  auto arr = decode_error<std::array<int, 3>>(codec::encode(std::vector<int>{1, 2}));
  CHECK(arr.message() == "expected arr<i32,3> at $, found vector of 2");
  auto tup = decode_error<std::tuple<int, int>>(codec::encode(std::tuple<int>{1}));
  CHECK(tup.message() == "expected tup<i32,i32> at $, found vector of 1");
  using var = std::variant<int, std::string>;
  auto bad_index = decode_error<var>(codec::encode(std::tuple<int, int>{5, 1}));
  CHECK(bad_index.message()
        == "expected alternative index < 2 at $[0], found int 5 (out of range)");
  auto bad_alt = decode_error<var>(codec::encode(std::tuple<int, int>{1, 1}));
  CHECK(bad_alt.message() == "expected str at $[1], found int 1");
  CHECK(decode_error<int>(codec::encode(std::optional<int>{})).message()
        == "expected i32 at $, found null");
}

TEST_CASE("schema evolution: added fields keep defaults, unknown are ignored") {
  auto v1_bytes = codec::encode(account_v1{"ann", 10});
  auto as_v2 = codec::decode<account_v2>(v1_bytes);
  REQUIRE(as_v2.has_value());
  CHECK(as_v2->owner == "ann");
  CHECK(as_v2->balance == 10);
  CHECK(as_v2->currency == "EUR");

  auto v2_bytes = codec::encode(account_v2{"bob", -5, "USD"});
  auto as_v1 = codec::decode<account_v1>(v2_bytes);
  REQUIRE(as_v1.has_value());
  CHECK(as_v1->owner == "bob");
  CHECK(as_v1->balance == -5);
}

// -- property tests ----

namespace {

class generator {
 public:
  explicit generator(std::uint64_t seed) : rng_(seed) {
  }

  template <class I>
  I integer() {
    // Mostly small values, sometimes any bit pattern.
    std::uint64_t bits = rng_();
    if (bits % 4 == 0)
      bits >>= (rng_() % 64);
    return static_cast<I>(bits);
  }
  double real() {
    for (;;) {
      double d;
      std::uint64_t bits = rng_();
      std::memcpy(&d, &bits, sizeof d);
      if (rng_() % 2)
        d = static_cast<double>(integer<std::int32_t>()) / 8;
      if (!std::isnan(d))
        return d;
    }
  }
  std::size_t size(std::size_t max) {
    return rng_() % (max + 1);
  }
  std::string text() {
    std::string s(size(12), '\0');
    for (auto& c : s)
      c = static_cast<char>(rng_() % 3 == 0 ? rng_() : 'a' + rng_() % 26);
    return s;
  }
  inner make_inner() {
    inner in;
    in.id = integer<std::int32_t>();
    if (rng_() % 2)
      in.label = text();
    in.weights.resize(size(4));
    for (auto& w : in.weights)
      w = real();
    return in;
  }
  sample make_sample() {
    sample s;
    s.flag = rng_() % 2;
    s.i8 = integer<std::int8_t>();
    s.i16 = integer<std::int16_t>();
    s.i32 = integer<std::int32_t>();
    s.i64 = integer<std::int64_t>();
    s.u8 = integer<std::uint8_t>();
    s.u16 = integer<std::uint16_t>();
    s.u32 = integer<std::uint32_t>();
    s.u64 = integer<std::uint64_t>();
    s.f32 = static_cast<float>(integer<std::int32_t>()) / 3.0f;
    s.f64 = real();
    s.text = text();
    s.blob.data = text();
    for (std::size_t i = size(300); i-- > 0;)
      s.ints.push_back(integer<std::int64_t>());
    for (std::size_t i = size(4); i-- > 0;)
      s.strings.push_back(text());
    for (std::size_t i = size(3); i-- > 0;)
      s.by_name[text()] = make_inner();
    for (std::size_t i = size(3); i-- > 0;)
      s.by_id[integer<std::int32_t>()] = text();
    if (rng_() % 2)
      s.maybe = make_inner();
    s.triple = {integer<int>(), text(), rng_() % 2 == 0};
    switch (rng_() % 4) {
      case 0: s.choice = std::monostate{}; break;
      case 1: s.choice = integer<int>(); break;
      case 2: s.choice = text(); break;
      default: s.choice = make_inner();
    }
    s.hue = static_cast<color>(rng_() % 3);
    for (std::size_t i = size(5); i-- > 0;)
      s.small.insert(integer<std::uint16_t>());
    for (auto& f : s.xyz)
      f = static_cast<float>(real());
    for (std::size_t i = size(9); i-- > 0;)
      s.bits.push_back(rng_() % 2);
    for (std::size_t i = size(3); i-- > 0;) {
      std::vector<std::uint8_t> v(size(300));
      for (auto& b : v)
        b = integer<std::uint8_t>();
      s.nested.push_back(std::move(v));
    }
    s.tagged.first = integer<char>();
    for (std::size_t i = size(5); i-- > 0;)
      s.tagged.second.push_back(std::byte{integer<std::uint8_t>()});
    return s;
  }
  std::mt19937_64& rng() {
    return rng_;
  }

 private:
  std::mt19937_64 rng_;
};

} // namespace

TEST_CASE("generated values of every kind round-trip exactly") {
  generator gen{20240601};
  for (int i = 0; i < 1500; ++i) {
    sample s = gen.make_sample();
    auto bytes = codec::encode(s);
    auto decoded = codec::decode<sample>(bytes);
    REQUIRE_MESSAGE(decoded.has_value(), decoded.as_status().to_string());
    REQUIRE(*decoded == s);
    REQUIRE(codec::to_json(bytes).has_value());
    // Our payloads are standard FlexBuffers: upstream's verifier agrees.
    REQUIRE(flexbuffers::VerifyBuffer(
      reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    auto scalar = gen.integer<std::int64_t>();
    REQUIRE(*codec::decode<std::int64_t>(codec::encode(scalar)) == scalar);
    auto d = gen.real();
    REQUIRE(*codec::decode<double>(codec::encode(d)) == d);
    auto text = gen.text();
    REQUIRE(*codec::decode<std::string>(codec::encode(text)) == text);
  }
}

TEST_CASE("random, truncated and corrupted bytes are errors, never crashes") {
  generator gen{7};
  auto& rng = gen.rng();
  auto probe = [](std::string_view bytes) {
    // Any outcome but a crash is fine; the error must be a codec error.
    auto a = codec::decode<sample>(bytes);
    auto b = codec::decode<std::vector<std::string>>(bytes);
    auto c = codec::decode<std::map<std::string, tree>>(bytes);
    auto d = codec::to_json_pretty(bytes);
    for (const status& st : {a.as_status(), b.as_status(), c.as_status(),
                             d.as_status()})
      REQUIRE((st.is_ok() || st.code() == errc::corruption
               || st.code() == errc::type_mismatch));
    return a.has_value();
  };
  int inputs = 0;
  for (int i = 0; i < 4000; ++i, ++inputs) {
    std::string junk(gen.size(64), '\0');
    for (auto& c : junk)
      c = static_cast<char>(rng());
    probe(junk);
  }
  int truncated_ok = 0;
  for (int i = 0; i < 40; ++i) {
    auto bytes = codec::encode(gen.make_sample());
    for (std::size_t n = 0; n < bytes.size(); n += 1 + bytes.size() / 97) {
      ++inputs;
      truncated_ok += probe(std::string_view{bytes}.substr(0, n));
    }
  }
  CHECK(truncated_ok == 0);
  for (int i = 0; i < 3000; ++i, ++inputs) {
    auto bytes = codec::encode(gen.make_sample());
    for (int flips = 1 + static_cast<int>(rng() % 4); flips-- > 0;)
      bytes[rng() % bytes.size()] = static_cast<char>(rng());
    probe(bytes);
  }
  CHECK(inputs >= 10000);
}

TEST_CASE("forged payloads are reported as corruption") {
  CHECK(codec::validate("").code() == errc::corruption);
  CHECK(codec::validate(std::string_view{"\x01\x04\x01", 3}).is_ok());
  CHECK(codec::validate(std::string_view{"\x01\x04\x03", 3}).code()
        == errc::corruption); // root width 3
  // A string whose offset points at its own slot.
  CHECK(codec::validate(std::string_view{"\x00\x14\x01", 3}).code()
        == errc::corruption);
  // A vector [null, itself]: its second element points back at it. In
  // bounds, but an item must end before the slot that refers to it.
  std::string cyclic{"\x02\x00\x01\x00\x28\x04\x28\x01", 8};
  auto st = codec::validate(cyclic);
  CHECK(st.code() == errc::corruption);
  CHECK(st.message()
        == "payload is not a valid FlexBuffer: vector out of bounds (at byte 1 "
           "of 8)");
  std::string acyclic = cyclic;
  acyclic[2] = 0; // the same vector holding [null, null]
  acyclic[4] = 0;
  CHECK(json(acyclic) == "[null,null]");
  // 300 references to one 200-byte blob would decode to 60 KB from 1 KB.
  std::string shared(1, '\xc8');
  shared.append(200, 'b');
  auto put16 = [&](std::size_t v) {
    shared += static_cast<char>(v & 0xff);
    shared += static_cast<char>(v >> 8);
  };
  put16(300);
  for (std::size_t i = 0; i < 300; ++i)
    put16(shared.size() - 1);
  shared.append(300, static_cast<char>(flexbuffers::FBT_BLOB << 2));
  put16(shared.size() - 203);
  shared += static_cast<char>(flexbuffers::FBT_VECTOR << 2 | 1);
  shared += '\x02';
  auto budget = codec::decode<std::vector<codec::bytes>>(shared);
  REQUIRE_FALSE(budget.has_value());
  CHECK(budget.error().code() == errc::corruption);
  CHECK(budget.error().message().find("too much shared structure")
        != std::string::npos);

  // 200 nested vectors are deeper than any payload may be.
  std::vector<std::uint8_t> deep;
  deep.push_back(0); // an empty vector
  std::size_t last = 1;
  for (int i = 0; i < 200; ++i) {
    deep.push_back(1);                                     // size 1
    deep.push_back(static_cast<std::uint8_t>(deep.size() - last));
    deep.push_back(0x28);                                  // vector, width 1
    last = deep.size() - 2;
  }
  deep.push_back(static_cast<std::uint8_t>(deep.size() - last));
  deep.push_back(0x28);
  deep.push_back(1);
  std::string deep_bytes(deep.begin(), deep.end());
  CHECK(codec::validate(deep_bytes).code() == errc::corruption);
  CHECK(codec::decode<int>(deep_bytes).error().message().find("nested too deeply")
        != std::string::npos);
}

// -- JSON ----

TEST_CASE("to_json renders scalars, floats and special values exactly") {
  CHECK(json_of(42) == "42");
  CHECK(json_of(-7) == "-7");
  CHECK(json_of(std::numeric_limits<std::uint64_t>::max())
        == "18446744073709551615");
  CHECK(json_of(true) == "true");
  CHECK(json_of(std::monostate{}) == "null");
  CHECK(json_of(1.0) == "1.0");
  CHECK(json_of(0.1) == "0.1");
  CHECK(json_of(0.1f) == "0.1");
  CHECK(json_of(-0.0) == "-0.0");
  CHECK(json_of(1e300) == "1e+300");
  CHECK(json_of(std::nan("")) == R"("NaN")");
  CHECK(json_of(std::numeric_limits<double>::infinity()) == R"("Infinity")");
  CHECK(json_of(-std::numeric_limits<float>::infinity()) == R"("-Infinity")");
  CHECK(json_of(std::vector<double>{0.5, 2}) == "[0.5,2.0]");
  CHECK(json_of(std::vector<std::string>{}) == "[]");
  CHECK(json_of(std::map<std::string, int>{}) == "{}");
}

TEST_CASE("to_json escapes strings and replaces invalid UTF-8") {
  CHECK(json_of(std::string{"say \"hi\"\\"}) == R"("say \"hi\"\\")");
  CHECK(json_of(std::string{"\n\t\r\b\f\x01\x1f", 7})
        == R"("\n\t\r\b\f\u0001\u001f")");
  CHECK(json_of(std::string{"a\0b", 3}) == R"("a\u0000b")");
  CHECK(json_of(std::string{"grüße 🌍 €"}) == "\"grüße 🌍 €\"");
  CHECK(json_of(std::string{"bad \xff\xc3 end"}) == R"("bad \ufffd\ufffd end")");
  CHECK(json_of(std::string{"\xed\xa0\x80"}) == R"("\ufffd\ufffd\ufffd")");
  CHECK(json_of(std::map<std::string, int>{{"q\"", 1}}) == R"({"q\"":1})");
}

TEST_CASE("to_json_pretty indents one member per line") {
  point p{1, 0.5, {"a"}};
  auto pretty = codec::to_json_pretty(codec::encode(p));
  REQUIRE(pretty.has_value());
  CHECK(*pretty
        == "{\n"
           "  \"tags\": [\n"
           "    \"a\"\n"
           "  ],\n"
           "  \"x\": 1,\n"
           "  \"y\": 0.5\n"
           "}");
  auto four = codec::to_json_pretty(codec::encode(std::vector<int>{}), 4);
  CHECK(*four == "[]");
  auto blob = codec::to_json_pretty(codec::encode(codec::bytes{"Man"}));
  CHECK(*blob == R"({"$bytes": "TWFu"})");
}

TEST_CASE("to_json handles typed, fixed and indirect FlexBuffers values") {
  flexbuffers::Builder b;
  b.Map([&] {
    b.IndirectInt("ii", -5);
    b.IndirectUInt("iu", 6);
    b.IndirectFloat("if", 0.25f);
    b.IndirectDouble("id", 0.1);
    int xy[2] = {1, 2};
    b.FixedTypedVector("fixed", xy, 2);
    float xyz[3] = {1.5f, 2, 3};
    b.FixedTypedVector("fixed3", xyz, 3);
    b.TypedVector("keys", [&] {
      b.Key("k1");
      b.Key("k2");
    });
    b.Vector("mixed", [&] {
      b.Int(1);
      b.Double(0.5);
      b.Bool(false);
      b.Null();
      b.String("s");
    });
  });
  b.Finish();
  std::string bytes(reinterpret_cast<const char*>(b.GetBuffer().data()),
                    b.GetBuffer().size());
  CHECK(json(bytes)
        == R"({"fixed":[1,2],"fixed3":[1.5,2.0,3.0],"id":0.1,"if":0.25,)"
           R"("ii":-5,"iu":6,"keys":["k1","k2"],)"
           R"("mixed":[1,0.5,false,null,"s"]})");
  auto view = codec::decode<indirect_view>(bytes);
  REQUIRE(view.has_value());
  CHECK(view->ii == -5);
  CHECK(view->iu == 6);
  CHECK(view->id == 0.1);
  CHECK(view->fixed == std::array<int, 2>{1, 2});
  CHECK(view->keys == std::vector<std::string>{"k1", "k2"});
  flexbuffers::Builder b2;
  int xy[2] = {3, 4};
  b2.FixedTypedVector(xy, 2);
  b2.Finish();
  std::string fixed_bytes(reinterpret_cast<const char*>(b2.GetBuffer().data()),
                          b2.GetBuffer().size());
  CHECK(*codec::decode<std::array<int, 2>>(fixed_bytes)
        == std::array<int, 2>{3, 4});
  CHECK(*codec::decode<std::vector<long>>(fixed_bytes) == std::vector<long>{3, 4});
}

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
