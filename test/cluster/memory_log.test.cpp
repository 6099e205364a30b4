// SPDX-License-Identifier: Apache-2.0
// The in-memory partition_log: a perfect log when no fault is set, and each
// fault doing what it says, reproducibly from a seed.

#include "perdure/cluster/memory_log.hpp"

#include <doctest/doctest.h>
#include <future>
#include <optional>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> bytes_of(const std::vector<log_record>& rs) {
  std::vector<std::string> out;
  for (auto& r : rs)
    out.push_back(r.bytes);
  return out;
}

} // namespace

TEST_CASE("without faults appends land in order and are acked later") {
  memory_log log{1};
  std::vector<log_offset> acks;
  for (int i = 0; i < 3; ++i)
    log.append(std::to_string(i), [&](result<log_offset> r) {
      REQUIRE(r);
      acks.push_back(*r);
    });
  CHECK(acks.empty()); // never inside append()
  CHECK(log.end_offset(0ms).value() == 0);
  CHECK(log.settle() == 3);
  CHECK(acks == std::vector<log_offset>{0, 1, 2});
  CHECK(log.end_offset(0ms).value() == 3);
  auto rs = log.read(1, 10, 0ms);
  REQUIRE(rs);
  CHECK(bytes_of(*rs) == std::vector<std::string>{"1", "2"});
  CHECK(log.read(0, 1, 0ms)->size() == 1);
  CHECK(log.read(3, 10, 0ms)->empty());
}

TEST_CASE("a duplicated append lands twice and is acked once") {
  memory_log log{1, {.duplicate = 1}};
  int acks = 0;
  log.append("x", [&](result<log_offset>) { ++acks; });
  CHECK(log.step());
  log.faults({});
  log.settle();
  CHECK(acks == 1);
  CHECK(bytes_of(log.records()) == std::vector<std::string>{"x", "x"});
}

TEST_CASE("a delayed append lands after appends made later") {
  memory_log log{1, {.delay = 1}};
  log.append("old", [](result<log_offset>) {});
  log.append("new", [](result<log_offset>) {});
  CHECK(log.step()); // "old" held back
  log.faults({});
  log.settle();
  CHECK(bytes_of(log.records()) == std::vector<std::string>{"new", "old"});
}

TEST_CASE("a lost ack reports timeout although the record landed") {
  memory_log log{1, {.lose_ack = 1}};
  std::optional<result<log_offset>> ack;
  log.append("x", [&](result<log_offset> r) { ack = std::move(r); });
  log.settle();
  REQUIRE(ack);
  CHECK(ack->error() == errc::timeout);
  CHECK(log.records().size() == 1);
}

TEST_CASE("a failed append does not land and reports io") {
  memory_log log{1, {.fail = 1}};
  std::optional<result<log_offset>> ack;
  log.append("x", [&](result<log_offset> r) { ack = std::move(r); });
  log.settle();
  REQUIRE(ack);
  CHECK(ack->error() == errc::io);
  CHECK(log.records().empty());
  CHECK(log.end_offset(0ms).value() == 0);
}

TEST_CASE("gaps skip offsets and reads still find every record") {
  memory_log log{3, {.gap = 1}};
  log.append("a", [](result<log_offset>) {});
  log.append("b", [](result<log_offset>) {});
  log.settle();
  auto rs = log.records();
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].offset == 1);
  CHECK(rs[1].offset == 3);
  CHECK(bytes_of(*log.read(2, 10, 0ms)) == std::vector<std::string>{"b"});
}

TEST_CASE("the same seed and faults give the same log") {
  auto run = [](std::uint64_t seed) {
    memory_log log{
        seed,
        {.reorder = .5, .duplicate = .2, .delay = .2, .fail = .1, .gap = .1}};
    for (int i = 0; i < 50; ++i)
      log.append(std::to_string(i), [](result<log_offset>) {});
    log.settle();
    return log.records();
  };
  auto a = run(11);
  auto b = run(11);
  auto c = run(12);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].offset == b[i].offset);
    CHECK(a[i].bytes == b[i].bytes);
  }
  CHECK(bytes_of(a) != bytes_of(c));
}

TEST_CASE("a closed log fails reads") {
  memory_log log{1};
  log.close();
  CHECK(log.read(0, 1, 0ms).error() == errc::closed);
  CHECK(log.end_offset(0ms).error() == errc::closed);
}

TEST_CASE("a waiting read returns once another thread lands a record") {
  memory_log log{1};
  // The deadline only bounds a broken log; the read returns on landing.
  auto reader =
      std::async(std::launch::async, [&] { return log.read(0, 10, 60s); });
  log.append("x", [](result<log_offset>) {});
  log.settle();
  auto got = reader.get();
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  CHECK((*got)[0].bytes == "x");
}
