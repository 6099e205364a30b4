// SPDX-License-Identifier: Apache-2.0
// Crash, corruption and capacity tests with real processes and real files.

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "child_process.hpp"
#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;

namespace {

std::unique_ptr<event_log> open_log(const std::filesystem::path& dir,
                                    durability mode = durability::sync) {
  options opts;
  opts.dir = dir;
  opts.mode = mode;
  auto r = event_log::open(opts);
  REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
  return std::move(*r);
}

std::string payload_for(int stream, int i) {
  // Long enough to span several pages now and then.
  return std::string(static_cast<std::size_t>(10 + (i * 37) % 3000),
                     static_cast<char>('a' + (stream + i) % 26))
         + "#" + std::to_string(i);
}

} // namespace

// Appends to 4 streams from 4 threads and prints "ack S I" once record I of
// stream S is durable, until killed.
PERDURE_CHILD_ENTRY("append_forever") {
  options opts;
  opts.dir = args.at(0);
  opts.initial_map_size = 1 << 20; // small, so that growth happens under fire
  auto log = std::move(*event_log::open(opts));
  std::mutex out;
  std::vector<std::thread> ts;
  for (int s = 0; s < 4; ++s)
    ts.emplace_back([&, s] {
      for (int i = 1;; ++i) {
        write_batch b;
        b.append("s" + std::to_string(s), 1, payload_for(s, i))
          .put_offset("off" + std::to_string(s), i);
        if (!log->commit(std::move(b)))
          std::abort();
        std::lock_guard<std::mutex> g{out};
        std::printf("ack %d %d\n", s, i);
        std::fflush(stdout);
      }
    });
  for (auto& t : ts)
    t.join();
  return 0;
}

TEST_CASE("after SIGKILL every acknowledged record is intact and no partial record is visible") {
  test::temp_dir dir;
  int acked[4] = {0, 0, 0, 0};
  for (int round = 0; round < 3; ++round) {
    test::child_process child{"append_forever", {dir.path().string()}};
    // Let it run for a while, then kill it mid-flight.
    int lines = 0;
    while (lines < 300 + round * 100) {
      auto line = child.read_line();
      REQUIRE_FALSE(line.empty());
      int s = 0, i = 0;
      REQUIRE(std::sscanf(line.c_str(), "ack %d %d", &s, &i) == 2);
      acked[s] = std::max(acked[s], i);
      ++lines;
    }
    child.kill();
    auto log = open_log(dir.path());
    for (int s = 0; s < 4; ++s) {
      auto id = "s" + std::to_string(s);
      auto recs = log->read(id);
      REQUIRE(recs);
      REQUIRE(recs->size() >= static_cast<std::size_t>(acked[s]));
      for (std::size_t i = 0; i < recs->size(); ++i) {
        // Records of earlier rounds restart numbering at 1 in the payload.
        CHECK((*recs)[i].seq == i + 1);
      }
      // The last record is whole and the offset matches the stream.
      auto last = recs->back();
      auto hash = last.payload.rfind('#');
      REQUIRE(hash != std::string::npos);
      auto i = std::stoi(last.payload.substr(hash + 1));
      CHECK(last.payload == payload_for(s, i));
      CHECK(log->offset("off" + std::to_string(s))->value() == i);
    }
    auto damage = log->verify();
    REQUIRE(damage);
    CHECK(damage->empty());
    // The next child appends after what survived; acked counts restart.
    for (auto& a : acked)
      a = 0;
  }
}

TEST_CASE("a flipped byte in a stored record is corruption naming stream and seq, other streams stay readable") {
  test::temp_dir dir;
  const std::string marker = "MARKER-PAYLOAD-0123456789-MARKER";
  {
    auto log = open_log(dir.path());
    for (int i = 0; i < 10; ++i)
      REQUIRE(log->append("healthy", 1, "fine " + std::to_string(i)));
    REQUIRE(log->append("victim", 1, "first"));
    REQUIRE(log->append("victim", 1, marker));
    REQUIRE(log->append("victim", 1, "third"));
  }
  auto file = dir.path() / "data.mdb";
  std::string bytes;
  {
    std::ifstream in{file, std::ios::binary};
    bytes.assign(std::istreambuf_iterator<char>{in}, {});
  }
  // LMDB copies pages on write, so free pages may still hold older copies
  // of the record: damage every copy.
  auto pos = bytes.find(marker);
  REQUIRE(pos != std::string::npos);
  for (; pos != std::string::npos; pos = bytes.find(marker, pos + 1))
    bytes[pos + 7] ^= 0x20;
  {
    std::ofstream out{file, std::ios::binary | std::ios::trunc};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto log = open_log(dir.path());
  auto r = log->read("victim");
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::corruption);
  CHECK(r.error().message().find("'victim' seq 2") != std::string::npos);
  // Records before the damage are still reachable one by one.
  CHECK(log->read("victim", 1, 1)->front().payload == "first");
  CHECK(log->read("victim", 3)->front().payload == "third");
  CHECK(log->read("healthy")->size() == 10);
  CHECK(*log->append("healthy", 1, "more") == 11);
  auto damage = log->verify();
  REQUIRE(damage);
  REQUIRE(damage->size() == 1);
  CHECK(damage->front().stream == "victim");
  CHECK(damage->front().seq == 2);
  CHECK(damage->front().what.find("checksum") != std::string::npos);
}

TEST_CASE("a full map grows, then fails as full at the maximum and keeps what was committed") {
  test::temp_dir dir;
  options opts;
  opts.dir = dir.path();
  opts.mode = durability::process;
  opts.initial_map_size = 1 << 20;
  opts.max_map_size = 4 << 20;
  std::size_t committed = 0;
  {
    auto log = std::move(*event_log::open(opts));
    std::string payload(64 * 1024, 'm');
    status last;
    for (int i = 0; i < 200; ++i) {
      auto r = log->append("big", 1, payload);
      if (!r) {
        last = r.error();
        break;
      }
      ++committed;
    }
    CHECK(last.code() == errc::full);
    CHECK(last.message().find("max_map_size") != std::string::npos);
    CHECK(log->stats().map_grows >= 2);
    CHECK(committed > 16); // more than the initial map could hold
    // Small writes may still fit; nothing committed was lost.
    CHECK(log->read("big")->size() == committed);
  }
  auto log = std::move(*event_log::open(opts));
  CHECK(log->read("big")->size() == committed);
  CHECK(log->verify()->empty());
}

// Opens the directory read-only and reports how many records it sees.
PERDURE_CHILD_ENTRY("reader") {
  options opts;
  opts.dir = args.at(0);
  opts.read_only = true;
  auto want = std::stoul(args.at(1));
  // Polls until the writer got that far, with a deadline (not a count of
  // tries: a slow machine gets as long as a fast one).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes{1};
  while (std::chrono::steady_clock::now() < deadline) {
    auto log = event_log::open(opts);
    if (!log) {
      std::printf("error %s\n", log.error().to_string().c_str());
      return 1;
    }
    auto recs = (*log)->read("live");
    if (recs && recs->size() >= want) {
      std::printf("saw %zu\n", recs->size());
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  std::printf("timeout\n");
  return 1;
}

TEST_CASE("a second process reads the log while the first one writes") {
  test::temp_dir dir;
  auto log = open_log(dir.path(), durability::process);
  REQUIRE(log->append("live", 1, "first"));
  test::child_process reader{"reader", {dir.path().string(), "200"}};
  for (int i = 0; i < 250; ++i)
    REQUIRE(log->append("live", 1, std::string(2000, 'x')));
  auto line = reader.read_line();
  CHECK(reader.wait() == 0);
  CHECK(line.rfind("saw ", 0) == 0);
}

// LMDB 0.9 follows a page number without checking it against the file: a
// damaged one would read past the end of data.mdb (SIGBUS) or outside the
// map (SIGSEGV). The log turns both into a corruption error.
TEST_CASE("a page number pointing past the file or the map is a corruption error, not a crash") {
  for (std::uint64_t bad_root : {std::uint64_t{0}, std::uint64_t{0x7FFFFFF0}}) {
    CAPTURE(bad_root);
    test::temp_dir dir;
    {
      auto log = open_log(dir.path());
      for (int i = 0; i < 200; ++i)
        REQUIRE(log->append("s", 1, payload_for(0, i)));
      REQUIRE(log->append("other", 1, "x"));
    }
    auto file = dir.path() / "data.mdb";
    std::string bytes;
    {
      std::ifstream in{file, std::ios::binary};
      bytes.assign(std::istreambuf_iterator<char>{in}, {});
    }
    auto pages = bytes.size() / 4096;
    // The main database's node for the named database "log": flags
    // F_SUBDATA (2), key size 3, "log", then its MDB_db whose last field
    // (byte 40) is the root page number. Point every copy elsewhere: just
    // past the end of the file (0 means that here), or far outside the map.
    const std::string node{"\x02\x00\x03\x00log", 7};
    std::uint64_t root = bad_root == 0 ? pages + 3 : bad_root;
    int patched = 0;
    for (auto pos = bytes.find(node); pos != std::string::npos;
         pos = bytes.find(node, pos + 1), ++patched)
      std::memcpy(bytes.data() + pos + node.size() + 40, &root, 8);
    REQUIRE(patched > 0);
    {
      std::ofstream out{file, std::ios::binary | std::ios::trunc};
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    auto log = open_log(dir.path());
    // Again and again: a jump out of the fault handler must leave the
    // signal unblocked for the next fault (map_guard.hpp).
    for (int again = 0; again < 3; ++again) {
      auto r = log->read("s");
      REQUIRE_FALSE(r);
      CHECK_MESSAGE(r.error().code() == errc::corruption,
                    r.error().to_string());
    }
    auto damage = log->verify();
    CHECK((!damage || !damage->empty()));
    // Side databases do not go through the damaged tree.
    CHECK(log->info("s").has_value());
  }
}
