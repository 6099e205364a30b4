// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;

namespace {

std::unique_ptr<event_log> open_log(const std::filesystem::path& dir,
                                    durability mode = durability::process) {
  options opts;
  opts.dir = dir;
  opts.mode = mode;
  opts.writer_id = "test-engine";
  auto r = event_log::open(opts);
  REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
  return std::move(*r);
}

} // namespace

TEST_CASE("appended records read back in order with sequence numbers from 1") {
  test::temp_dir dir;
  auto log = open_log(dir.path(), durability::sync);
  for (int i = 0; i < 5; ++i) {
    auto r = log->append("orders", 7, "payload-" + std::to_string(i));
    REQUIRE(r);
    CHECK(*r == static_cast<seq_t>(i + 1));
  }
  auto recs = log->read("orders");
  REQUIRE(recs);
  REQUIRE(recs->size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK((*recs)[i].seq == static_cast<seq_t>(i + 1));
    CHECK((*recs)[i].kind == 7);
    CHECK((*recs)[i].writer == "test-engine");
    CHECK((*recs)[i].payload == "payload-" + std::to_string(i));
    CHECK((*recs)[i].time > 0);
  }
}

TEST_CASE("reading from a sequence number skips earlier records") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  for (int i = 0; i < 10; ++i)
    REQUIRE(log->append("s", 1, std::to_string(i)));
  auto recs = log->read("s", 7);
  REQUIRE(recs);
  REQUIRE(recs->size() == 4);
  CHECK(recs->front().seq == 7);
  auto two = log->read("s", 3, 2);
  REQUIRE(two);
  CHECK(two->size() == 2);
  CHECK(two->back().seq == 4);
}

TEST_CASE("streams sharing a prefix do not see each other's records") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  REQUIRE(log->append("a", 1, "in a"));
  REQUIRE(log->append("ab", 1, "in ab"));
  REQUIRE(log->append("a b", 1, "in a b"));
  auto a = log->read("a");
  REQUIRE(a);
  REQUIRE(a->size() == 1);
  CHECK(a->front().payload == "in a");
}

TEST_CASE("a stale expected_last is a conflict and writes nothing") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  REQUIRE(log->append("s", 1, "one", 0));
  REQUIRE(log->append("s", 1, "two", 1));
  auto r = log->append("s", 1, "three", 1);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::conflict);
  CHECK(r.error().message().find("'s'") != std::string::npos);
  auto recs = log->read("s");
  REQUIRE(recs);
  CHECK(recs->size() == 2);
}

TEST_CASE("a multi-record batch is atomic: a conflict anywhere writes none of it") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  REQUIRE(log->append("x", 1, "x1"));
  write_batch ok;
  ok.append("x", 1, "x2").append("y", 1, "y1").append("x", 1, "x3");
  auto r = log->commit(std::move(ok));
  REQUIRE(r);
  CHECK(r->seqs == std::vector<seq_t>{2, 1, 3});

  write_batch bad;
  bad.append("x", 1, "x4").append("y", 1, "y2").expect_last("y", 5);
  auto r2 = log->commit(std::move(bad));
  REQUIRE_FALSE(r2);
  CHECK(r2.error().code() == errc::conflict);
  CHECK(log->read("x")->size() == 3);
  CHECK(log->read("y")->size() == 1);
  CHECK(log->info("x")->last_seq == 3);
}

TEST_CASE("read_last returns the newest record and an unknown stream is not_found") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  auto missing = log->read_last("nobody");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == errc::not_found);
  CHECK(log->read("nobody").error().code() == errc::not_found);
  REQUIRE(log->append("s", 1, "a"));
  REQUIRE(log->append("s", 2, "b"));
  auto last = log->read_last("s");
  REQUIRE(last);
  CHECK(last->seq == 2);
  CHECK(last->payload == "b");
}

TEST_CASE("drop_before removes older records and appends continue the sequence") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  for (int i = 0; i < 6; ++i)
    REQUIRE(log->append("s", 1, std::to_string(i)));
  write_batch b;
  b.set_snapshot("s", 4).drop_before("s", 4);
  REQUIRE(log->commit(std::move(b)));
  auto recs = log->read("s");
  REQUIRE(recs);
  REQUIRE(recs->size() == 3);
  CHECK(recs->front().seq == 4);
  auto info = log->info("s");
  CHECK(info->first_seq == 4);
  CHECK(info->snapshot_seq == 4);
  CHECK(*log->append("s", 1, "next") == 7);
}

TEST_CASE("invalid stream ids are rejected with a clear error") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  const std::string bad[] = {"", std::string(300, 'x'), "bad\xff\xfe", "nul\0id",
                             "tab\tid", "\xc0\xaf"};
  for (auto id : bad) {
    if (id == "nul")
      id = std::string{"nul\0id", 6};
    auto r = log->append(id, 1, "p");
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::invalid_argument);
    CHECK_FALSE(r.error().message().empty());
  }
  CHECK(check_stream_id("wf/订单-42").empty());
  CHECK(check_stream_id(std::string(max_stream_id_size, 'a')).empty());
  CHECK_FALSE(check_stream_id(std::string{"a\0b", 3}).empty());
}

TEST_CASE("records survive closing and reopening the log") {
  test::temp_dir dir;
  {
    auto log = open_log(dir.path(), durability::sync);
    REQUIRE(log->append("persist", 3, "hello"));
    write_batch b;
    b.create("persist", stream_kind::workflow, "meta").set_status("persist", "running");
    REQUIRE(log->commit(std::move(b)));
  }
  auto log = open_log(dir.path());
  auto recs = log->read("persist");
  REQUIRE(recs);
  REQUIRE(recs->size() == 1);
  CHECK(recs->front().payload == "hello");
  auto info = log->info("persist");
  REQUIRE(info);
  CHECK(info->status == "running");
  CHECK(info->metadata.empty()); // created by the append before create()
  CHECK(*log->append("persist", 3, "again") == 2);
}

TEST_CASE("a second writer on the same directory is refused as busy") {
  test::temp_dir dir;
  auto first = open_log(dir.path());
  options opts;
  opts.dir = dir.path();
  auto second = event_log::open(opts);
  REQUIRE_FALSE(second);
  CHECK(second.error().code() == errc::busy);
  CHECK(second.error().message().find("already open") != std::string::npos);
}

TEST_CASE("invalid options are rejected before anything is opened") {
  test::temp_dir dir;
  options opts;
  CHECK(event_log::open(opts).error().code() == errc::invalid_argument);
  opts.dir = dir.path();
  opts.initial_map_size = 1000;
  CHECK(event_log::open(opts).error().code() == errc::invalid_argument);
  opts.initial_map_size = 8 << 20;
  opts.max_map_size = 4 << 20;
  CHECK(event_log::open(opts).error().code() == errc::invalid_argument);
  options ro;
  ro.dir = dir / "nothing-here";
  ro.read_only = true;
  CHECK(event_log::open(ro).error().code() == errc::not_found);
}

TEST_CASE("writes to a closed log fail as closed and reads keep working") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  REQUIRE(log->append("s", 1, "a"));
  CHECK(log->close());
  CHECK(log->close()); // again: the same status
  auto r = log->append("s", 1, "b");
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::closed);
  CHECK(log->read("s")->size() == 1);
}

TEST_CASE("scan reads payloads in place and stops when told") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  for (int i = 0; i < 5; ++i)
    REQUIRE(log->append("s", 1, std::string(100, static_cast<char>('a' + i))));
  int seen = 0;
  auto st = log->scan("s", 2, [&](const record_view& rv) {
    CHECK(rv.payload.size() == 100);
    CHECK(rv.payload[0] == static_cast<char>('a' + rv.seq - 1));
    return ++seen < 3;
  });
  CHECK(st.is_ok());
  CHECK(seen == 3);
}
