// SPDX-License-Identifier: Apache-2.0
// Rendering payloads as JSON without their C++ type.

#include "codec_test_types.hpp"

#include <cmath>
#include <limits>

using namespace perdure;
using namespace test_types;

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
