// SPDX-License-Identifier: Apache-2.0
// The envelope of the cluster log's records: round trips, the pinned
// layout, and clear errors (never a crash) for garbage and newer versions.

#include "perdure/cluster/log_entry.hpp"

#include "perdure/cluster/partition_map.hpp"

#include <cstdint>
#include <doctest/doctest.h>
#include <random>

using namespace perdure;
using namespace perdure::cluster;

namespace {

group_entry sample_group() {
  return group_entry{.epoch = 42,
                     .writer = {"node-b", 9},
                     .sequence = 3,
                     .bytes = std::string("pay\0load", 8)};
}

std::uint64_t load_le64(std::string_view b) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= std::uint64_t{static_cast<std::uint8_t>(b[i])} << (8 * i);
  return v;
}

std::uint64_t xxh64_of_rest(std::string_view b) {
  return xxh64(b.substr(8));
}

// `bytes` with byte `at` set to `value` and the checksum recomputed: what
// a newer (or a buggy) writer would produce.
std::string with_checksum(std::string bytes, std::size_t at,
                          std::uint8_t value) {
  bytes[at] = static_cast<char>(value);
  auto sum = xxh64_of_rest(bytes);
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  return bytes;
}

} // namespace

TEST_CASE("a claim round-trips") {
  log_entry in = claim_entry{{"node-a", 0x0102030405060708ull}};
  auto out = decode(encode(in));
  REQUIRE(out);
  CHECK(*out == in);
  CHECK(kind_of(*out) == entry_kind::claim);
}

TEST_CASE("a claim's endpoint round-trips") {
  log_entry in = claim_entry{{"node-a", 7}, "127.0.0.1:40123"};
  auto out = decode(encode(in));
  REQUIRE(out);
  CHECK(*out == in);
  log_entry longest = claim_entry{{"n", 1}, std::string(max_endpoint_size, 'e')};
  out = decode(encode(longest));
  REQUIRE(out);
  CHECK(*out == longest);
}

TEST_CASE("a version 1 claim still decodes, with an empty endpoint") {
  // checksum (8), version 1, kind 1, node length, node, incarnation (8)
  std::string v1(8, '\0');
  v1 += '\1';
  v1 += '\1';
  v1 += '\2';
  v1 += "ab";
  v1 += std::string("\5\0\0\0\0\0\0\0", 8);
  v1 = with_checksum(v1, 8, 1);
  auto out = decode(v1);
  REQUIRE(out);
  CHECK(*out == log_entry{claim_entry{{"ab", 5}, ""}});
  // a version 1 group is laid out as in version 2
  auto g = with_checksum(encode(sample_group()), 8, 1);
  out = decode(g);
  REQUIRE(out);
  CHECK(*out == log_entry{sample_group()});
  // a version 2 claim's endpoint in a version 1 record: trailing bytes
  auto c = with_checksum(encode(claim_entry{{"ab", 5}, "h:1"}), 8, 1);
  CHECK(decode(c).error() == errc::corruption);
}

TEST_CASE("a claim whose endpoint length runs past the end is corruption") {
  auto bytes = encode(claim_entry{{"ab", 1}, "h:1"});
  // the endpoint length byte follows the identity
  auto at = std::size_t{8 + 1 + 1 + 1 + 2 + 8};
  CHECK(decode(with_checksum(bytes, at, 4)).error() == errc::corruption);
  CHECK(decode(with_checksum(bytes, at, 2)).error() == errc::corruption);
  auto cut = bytes.substr(0, at);
  CHECK(decode(with_checksum(cut, 8, 2)).error() == errc::corruption);
}

TEST_CASE("a group round-trips, binary bytes and all") {
  log_entry in = sample_group();
  auto out = decode(encode(in));
  REQUIRE(out);
  CHECK(*out == in);
  CHECK(kind_of(*out) == entry_kind::group);
  log_entry barrier = group_entry{7, {"n", 1}, 1, ""};
  auto b = decode(encode(barrier));
  REQUIRE(b);
  CHECK(*b == barrier);
}

TEST_CASE("a claim's bytes are pinned") {
  auto bytes = encode(claim_entry{{"ab", 1}, "h:9"});
  // checksum (8), version, kind, node length, node, incarnation (8),
  // endpoint length, endpoint
  REQUIRE(bytes.size() == 8 + 1 + 1 + 1 + 2 + 8 + 1 + 3);
  CHECK(xxh64_of_rest(bytes) == load_le64(bytes));
  CHECK(bytes[8] == 2);
  CHECK(bytes[9] == 1);
  CHECK(bytes[10] == 2);
  CHECK(bytes.substr(11, 2) == "ab");
  CHECK(bytes[13] == 1);
  CHECK(bytes.substr(14, 7) == std::string(7, '\0'));
  CHECK(bytes[21] == 3);
  CHECK(bytes.substr(22) == "h:9");
}

TEST_CASE("a newer format version is unsupported") {
  auto bytes = with_checksum(encode(sample_group()), 8, 3);
  auto out = decode(bytes);
  REQUIRE_FALSE(out);
  CHECK(out.error() == errc::unsupported);
  CHECK(out.error().message().find("version 3") != std::string::npos);
}

TEST_CASE("an unknown kind is unsupported, a flipped byte corruption") {
  // reserved: outbox entries
  auto bytes = with_checksum(encode(claim_entry{{"n", 1}}), 9, 3);
  auto out = decode(bytes);
  REQUIRE_FALSE(out);
  CHECK(out.error() == errc::unsupported);
  CHECK(out.error().message().find("kind 3") != std::string::npos);
  bytes = encode(claim_entry{{"n", 1}});
  bytes[9] = 3; // changed in transit: the checksum catches it
  CHECK(decode(bytes).error() == errc::corruption);
  bytes = encode(claim_entry{{"n", 1}});
  bytes.back() ^= 0x10;
  out = decode(bytes);
  REQUIRE_FALSE(out);
  CHECK(out.error() == errc::corruption);
  CHECK(out.error().message().find("checksum") != std::string::npos);
}

TEST_CASE("short, empty and truncated records are corruption") {
  CHECK(decode("").error() == errc::corruption);
  CHECK(decode(std::string(1, '\1')).error() == errc::corruption);
  CHECK(decode(with_checksum(encode(claim_entry{{"n", 1}}), 8, 0)).error() ==
        errc::corruption);
  auto bytes = encode(sample_group());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto out = decode(std::string_view(bytes).substr(0, n));
    REQUIRE_FALSE(out);
    CHECK(out.error() == errc::corruption);
  }
  auto longer = bytes + "x";
  CHECK(decode(longer).error() == errc::corruption);
}

TEST_CASE("random bytes never decode and never crash") {
  std::mt19937_64 rng{20261204};
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (auto& c : junk)
      c = static_cast<char>(rng());
    if (junk.size() >= 10 && rng() % 2)
      junk = with_checksum(junk, 8, 1); // past the checks, into the parser
    auto out = decode(junk);
    if (!out) {
      ++rejected;
      CHECK((out.error() == errc::corruption ||
             out.error() == errc::unsupported));
    }
  }
  // A checksummed junk body can still parse (a kind byte of 1 or 2 and
  // lengths that add up), but nearly never.
  CHECK(rejected > 19900);
}

TEST_CASE("random mutations of a valid record are rejected") {
  std::mt19937_64 rng{7};
  auto good = encode(sample_group());
  for (int i = 0; i < 5000; ++i) {
    auto bad = good;
    // a mutation of the body with a fixed-up checksum half the time
    bool fix = rng() % 2;
    auto flips = 1 + rng() % 3;
    for (std::uint64_t f = 0; f < flips; ++f)
      bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    if (fix)
      bad = with_checksum(bad, 8, static_cast<std::uint8_t>(bad[8]));
    if (bad == good)
      continue;
    auto out = decode(bad);
    if (fix && out)
      continue; // a body that still parses: the checksum's job, not ours
    REQUIRE_FALSE(out);
    CHECK(
        (out.error() == errc::corruption || out.error() == errc::unsupported));
  }
}

TEST_CASE("node identities print as node#incarnation") {
  CHECK(to_string(node_identity{"node-a", 3}) == "node-a#3");
}
