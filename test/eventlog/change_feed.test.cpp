// SPDX-License-Identifier: Apache-2.0
// Change feeds: the log notes every record of chosen kinds in a feed
// stream, in the record's own transaction; every writer of the storage
// notes alike; a journal replay after a power loss and a SIGKILL leave
// exactly one note per noted record, in commit order.

#include "perdure/eventlog/change_feed.hpp"
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "child_process.hpp"
#include "journal_support.hpp"
#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;
using namespace perdure::test;

namespace {

const std::vector<change_feed> wf_feed{{"feed/wf", {100, 102}}};

eventlog::options feed_opts(const std::filesystem::path& dir,
                            std::optional<std::vector<change_feed>> f) {
  auto o = journal_opts(dir);
  o.change_feeds = std::move(f);
  return o;
}

std::vector<change_note> notes_of(event_log& log) {
  std::vector<change_note> out;
  auto recs = log.read("feed/wf");
  if (!recs && recs.error() == errc::not_found)
    return out;
  REQUIRE_MESSAGE(recs.has_value(), recs.as_status().to_string());
  for (auto& r : *recs) {
    REQUIRE(r.kind == to_u16(record_kind::change_note));
    auto n = decode_change_note(r.payload);
    REQUIRE_MESSAGE(n.has_value(), n.as_status().to_string());
    out.push_back(std::move(*n));
  }
  return out;
}

// Every record of kind 100 or 102 in `streams` has exactly one note, the
// notes name such records only, and each stream's notes are in seq order.
void check_bijection(event_log& log, const std::vector<std::string>& streams) {
  std::set<std::pair<std::string, seq_t>> noted;
  std::map<std::string, seq_t> last;
  for (auto& n : notes_of(log)) {
    CHECK(noted.insert({n.source, n.seq}).second);
    CHECK(n.seq > last[n.source]);
    last[n.source] = n.seq;
    auto r = log.read(n.source, n.seq, 1);
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    CHECK((*r)[0].kind == n.kind);
  }
  std::size_t want = 0;
  for (auto& s : streams) {
    auto recs = log.read(s);
    if (!recs && recs.error() == errc::not_found)
      continue;
    REQUIRE(recs);
    for (auto& r : *recs)
      if (r.kind == 100 || r.kind == 102) {
        ++want;
        CHECK(noted.count({s, r.seq}) == 1);
      }
  }
  CHECK(noted.size() == want);
}

} // namespace

TEST_CASE("change feed: records of the chosen kinds are noted in their "
          "transaction, in order, without changing the batch's seqs") {
  temp_dir dir;
  auto log = open_ok(feed_opts(dir.path(), wf_feed));
  write_batch b;
  b.append("a", 100, "x").append("a", 101, "y").append("b", 102, "z");
  auto c = log->commit(std::move(b));
  REQUIRE(c);
  CHECK(c->seqs == std::vector<seq_t>{1, 2, 1});
  REQUIRE(log->append("a", 102, "w"));
  auto n = notes_of(*log);
  REQUIRE(n.size() == 3);
  CHECK((n[0].source == "a" && n[0].seq == 1 && n[0].kind == 100));
  CHECK((n[1].source == "b" && n[1].seq == 1 && n[1].kind == 102));
  CHECK((n[2].source == "a" && n[2].seq == 3 && n[2].kind == 102));
  // A refused batch notes nothing.
  write_batch bad;
  bad.expect_last("a", 1).append("a", 100, "never");
  CHECK(log->commit(std::move(bad)).error() == errc::conflict);
  CHECK(notes_of(*log).size() == 3);
  // A note that follows no append of its source is refused.
  write_batch orphan;
  orphan.note("feed/wf", "a", 100);
  CHECK(log->commit(std::move(orphan)).error() == errc::invalid_argument);
}

TEST_CASE("change feed: the rules are stored, every later writer follows "
          "them, and a writer's options replace them") {
  temp_dir dir;
  REQUIRE(open_ok(feed_opts(dir.path(), wf_feed))->append("a", 100, "1"));
  // Opened without rules: it notes as the storage says.
  REQUIRE(open_ok(feed_opts(dir.path(), std::nullopt))->append("a", 100, "2"));
  {
    auto o = feed_opts(dir.path(), std::nullopt);
    o.exclusive = false; // a tool beside an engine
    REQUIRE(open_ok(o)->append("a", 102, "3"));
  }
  // Rules turned off: nothing more is noted, by anyone.
  REQUIRE(open_ok(feed_opts(dir.path(), std::vector<change_feed>{}))
    ->append("a", 100, "4"));
  REQUIRE(open_ok(feed_opts(dir.path(), std::nullopt))->append("a", 100, "5"));
  auto log = open_ok(feed_opts(dir.path(), std::nullopt));
  auto n = notes_of(*log);
  REQUIRE(n.size() == 3);
  CHECK(n.back().seq == 3);
}

TEST_CASE("change feed: bad rules and malformed notes are clear errors") {
  temp_dir dir;
  for (auto f : {std::vector<change_feed>{{"", {100}}},
                 std::vector<change_feed>{{"feed/x", {}}},
                 std::vector<change_feed>{{"perdure.change-feeds", {1}}}}) {
    auto r = event_log::open(feed_opts(dir.path(), f));
    CHECK(r.error() == errc::invalid_argument);
  }
  CHECK(decode_change_note("").error() == errc::corruption);
  CHECK(decode_change_note(std::string(11, '\1')).error()
        == errc::corruption);
  auto n = encode_change_note({"s", 7, 102});
  n[0] = 9;
  CHECK(decode_change_note(n).error() == errc::unsupported);
  CHECK(decode_change_feeds("100:a\n102").error() == errc::corruption);
  CHECK(decode_change_feeds("x:a\n").error() == errc::corruption);
  auto rules = decode_change_feeds(encode_change_feeds(wf_feed));
  REQUIRE(rules);
  CHECK(*rules == wf_feed);
}

TEST_CASE("change feed: after a power loss the journal's replay restores "
          "exactly one note per noted record, whatever pages reached the "
          "disk") {
  temp_dir dir;
  std::vector<std::string> streams{"s0", "s1", "s2"};
  {
    open_ok(feed_opts(dir.path(), wf_feed));
  }
  // Reopened without rules; the open's checkpoint syncs data.mdb.
  auto log = open_ok(feed_opts(dir.path(), std::nullopt));
  auto at_checkpoint = slurp(dir / "data.mdb");
  std::vector<std::future<result<commit_info>>> acks;
  for (int i = 0; i < 300; ++i) {
    write_batch b;
    auto& s = streams[static_cast<std::size_t>(i) % streams.size()];
    b.append(s, static_cast<std::uint16_t>(100 + i % 3), std::to_string(i));
    if (i % 10 == 0)
      b.append("s0", 102, "extra");
    acks.push_back(log->submit(std::move(b)));
  }
  for (auto& a : acks)
    REQUIRE(a.get());
  auto final_data = slurp(dir / "data.mdb");
  std::map<std::string, std::string> journals;
  for (auto name : {"journal-0", "journal-1"})
    if (std::filesystem::exists(dir / name))
      journals[name] = slurp(dir / name);
  log.reset();
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode);
    auto crash = dir / ("crash" + std::to_string(mode));
    std::filesystem::create_directories(crash);
    spit(crash / "data.mdb", mode == 0 ? at_checkpoint : final_data);
    for (auto& [name, bytes] : journals)
      spit(crash / name, bytes);
    other_boot reboot;
    auto r = open_ok(feed_opts(crash, std::nullopt));
    check_bijection(*r, streams);
    CHECK(notes_of(*r).size() == 200 + 30);
  }
}

// Appends kinds 100..102 to 3 streams from 3 threads with the feed on and
// prints "ack" after each commit, until killed.
PERDURE_CHILD_ENTRY("feed_forever") {
  auto o = journal_opts(args.at(0));
  o.change_feeds = wf_feed;
  auto log = std::move(*event_log::open(o));
  std::mutex out;
  std::vector<std::thread> ts;
  for (int s = 0; s < 3; ++s)
    ts.emplace_back([&, s] {
      for (int i = 0;; ++i) {
        write_batch b;
        b.append("s" + std::to_string(s),
                 static_cast<std::uint16_t>(100 + i % 3), "v");
        if (!log->commit(std::move(b)))
          std::abort();
        std::lock_guard g{out};
        std::printf("ack\n");
        std::fflush(stdout);
      }
    });
  for (auto& t : ts)
    t.join();
  return 0;
}

TEST_CASE("change feed: killed with SIGKILL while three writers commit, "
          "each noted record has exactly one note") {
  temp_dir dir;
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    child_process child{"feed_forever", {dir.path().string()}};
    for (int acked = 0; acked < 200; ++acked)
      REQUIRE(child.read_line() == "ack");
    child.kill();
    auto log = open_ok(feed_opts(dir.path(), std::nullopt));
    check_bijection(*log, {"s0", "s1", "s2"});
    CHECK(notes_of(*log).size() >= (round + 1) * 200 * 2 / 3 - 3);
  }
}
