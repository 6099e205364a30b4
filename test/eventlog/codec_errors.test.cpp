// SPDX-License-Identifier: Apache-2.0
// Decoding errors: type mismatches with paths, ranges, sizes, schema
// evolution and forged payloads.

#include "codec_test_types.hpp"

#include <limits>

using namespace perdure;
using namespace test_types;

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

// -- forged payloads ----

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
