// SPDX-License-Identifier: Apache-2.0
// Property tests: generated values round-trip; random and damaged bytes are
// errors, never crashes.

#include "codec_test_types.hpp"

#include <cmath>
#include <cstring>
#include <random>

using namespace perdure;
using namespace test_types;

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
