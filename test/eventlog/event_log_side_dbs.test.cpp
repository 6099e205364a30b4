// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>
#include <lmdb.h>

#include <map>
#include <set>

#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;

namespace {

std::unique_ptr<event_log> open_log(const std::filesystem::path& dir) {
  options opts;
  opts.dir = dir;
  opts.mode = durability::process;
  auto r = event_log::open(opts);
  REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
  return std::move(*r);
}

std::set<std::string> ids(const std::vector<stream_info>& v) {
  std::set<std::string> out;
  for (auto& i : v)
    out.insert(i.id);
  return out;
}

} // namespace

TEST_CASE("the status index lists streams by status and follows changes") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  for (int i = 0; i < 20; ++i) {
    write_batch b;
    auto id = "wf" + std::to_string(i);
    b.create(id, stream_kind::workflow).append(id, 1, "submitted")
      .set_status(id, i % 2 == 0 ? "running" : "successful");
    REQUIRE(log->commit(std::move(b)));
  }
  CHECK(log->list_by_status("running")->size() == 10);
  CHECK(log->list_by_status("successful")->size() == 10);
  CHECK(log->list_by_status("running", 3)->size() == 3);
  write_batch b;
  b.set_status("wf0", "failed").set_status("wf2", "failed");
  REQUIRE(log->commit(std::move(b)));
  CHECK(log->list_by_status("running")->size() == 8);
  CHECK(ids(*log->list_by_status("failed")) == std::set<std::string>{"wf0", "wf2"});
  CHECK(log->list_by_status("nothing")->empty());
  auto info = log->info("wf0");
  REQUIRE(info);
  CHECK(info->kind == stream_kind::workflow);
  CHECK(info->status == "failed");
  CHECK(info->last_seq == 1);
  CHECK(info->updated >= info->created);
}

TEST_CASE("list filters the directory by stream kind") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  write_batch b;
  b.create("w1", stream_kind::workflow).create("a1", stream_kind::actor)
    .create("a2", stream_kind::actor, "meta-bytes");
  REQUIRE(log->commit(std::move(b)));
  CHECK(log->list()->size() == 3);
  CHECK(ids(*log->list(stream_kind::actor)) == std::set<std::string>{"a1", "a2"});
  CHECK(log->info("a2")->metadata == "meta-bytes");
  write_batch again;
  again.create("a2", stream_kind::workflow, "other");
  REQUIRE(log->commit(std::move(again)));
  CHECK(log->info("a2")->kind == stream_kind::actor); // create keeps an existing entry
}

TEST_CASE("a status longer than the limit is rejected") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  write_batch b;
  b.set_status("s", std::string(max_status_size + 1, 'x'));
  auto r = log->commit(std::move(b));
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::invalid_argument);
}

TEST_CASE("timers come back in due order, including times before the epoch") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  write_batch b;
  b.put_timer(3000, "w3", "t").put_timer(1000, "w1", "t")
    .put_timer(-5, "early", "t").put_timer(2000, "w2", "a").put_timer(2000, "w2", "b");
  REQUIRE(log->commit(std::move(b)));
  auto due = log->timers_due(2000);
  REQUIRE(due);
  REQUIRE(due->size() == 4);
  CHECK((*due)[0].stream == "early");
  CHECK((*due)[0].due == -5);
  CHECK((*due)[1].due == 1000);
  CHECK((*due)[2].tag == "a");
  CHECK((*due)[3].tag == "b");
  write_batch rm;
  rm.remove_timer(-5, "early", "t").remove_timer(9999, "none", "x");
  REQUIRE(log->commit(std::move(rm)));
  auto next = log->next_timer();
  REQUIRE(next);
  REQUIRE(next->has_value());
  CHECK((*next)->stream == "w1");
}

TEST_CASE("a source offset commits in the same transaction as its record") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  CHECK_FALSE(log->offset("kafka/orders/0")->has_value());
  write_batch b;
  b.append("actor-7", 1, "event").put_offset("kafka/orders/0", 42);
  REQUIRE(log->commit(std::move(b)));
  CHECK(log->offset("kafka/orders/0")->value() == 42);
  // A conflicting batch writes neither the record nor the offset.
  write_batch bad;
  bad.expect_last("actor-7", 0).append("actor-7", 1, "dup").put_offset("kafka/orders/0", 43);
  REQUIRE_FALSE(log->commit(std::move(bad)));
  CHECK(log->offset("kafka/orders/0")->value() == 42);
  CHECK(log->read("actor-7")->size() == 1);
}

TEST_CASE("blobs are content-addressed and stored once") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  std::string big(100000, 'z');
  write_batch b;
  auto k1 = b.put_blob(big);
  auto k2 = b.put_blob(big);
  CHECK(k1 == k2);
  CHECK(k1.size() == 64);
  REQUIRE(log->commit(std::move(b)));
  CHECK(*log->blob(k1) == big);
  std::size_t seen = 0;
  CHECK(log->with_blob(k1, [&](std::string_view v) { seen = v.size(); }).is_ok());
  CHECK(seen == big.size());
  CHECK(log->blob(std::string(64, '0')).error().code() == errc::not_found);
}

TEST_CASE("removing a stream deletes its records, index entries and timers") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  write_batch b;
  b.create("gone", stream_kind::workflow).append("gone", 1, "a").append("gone", 1, "b")
    .set_status("gone", "failed").put_timer(100, "gone", "t").put_timer(50, "kept", "t");
  REQUIRE(log->commit(std::move(b)));
  write_batch rm;
  rm.remove("gone");
  REQUIRE(log->commit(std::move(rm)));
  CHECK(log->info("gone").error().code() == errc::not_found);
  CHECK(log->read("gone").error().code() == errc::not_found);
  CHECK(log->list_by_status("failed")->empty());
  auto due = log->timers_due(1000);
  REQUIRE(due->size() == 1);
  CHECK(due->front().stream == "kept");
  CHECK(*log->append("gone", 1, "reborn") == 1);
}

TEST_CASE("verify finds no damage in a healthy log") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  for (int i = 0; i < 50; ++i) {
    write_batch b;
    auto id = "s" + std::to_string(i % 7);
    b.append(id, 1, std::string(i, 'p')).set_status(id, "running")
      .put_offset("o" + std::to_string(i), i).put_timer(i, id, "t");
    b.put_blob("blob" + std::to_string(i % 3));
    REQUIRE(log->commit(std::move(b)));
  }
  write_batch d;
  d.drop_before("s1", 3);
  REQUIRE(log->commit(std::move(d)));
  std::uint64_t last_done = 0, last_total = 0;
  auto r = log->verify([&](std::uint64_t done, std::uint64_t total) {
    last_done = done;
    last_total = total;
  });
  REQUIRE(r);
  for (auto& d : *r)
    FAIL_CHECK(d.stream << " " << d.seq << " " << d.what);
  CHECK(r->empty());
  CHECK(last_done == last_total);
  CHECK(last_total > 0);
}

TEST_CASE("storage figures count the entries of every database") {
  test::temp_dir dir;
  auto log = open_log(dir.path());
  write_batch b;
  b.append("s", 1, "a").append("s", 1, "b").set_status("s", "running")
    .put_timer(5, "s", "t").put_offset("k", 1);
  b.put_blob("blob");
  REQUIRE(log->commit(std::move(b)));
  auto st = log->storage();
  REQUIRE(st);
  CHECK(st->page_size >= 4096);
  CHECK(st->used_bytes > 0);
  CHECK(st->used_bytes <= st->map_size);
  std::map<std::string, std::uint64_t> entries;
  for (auto& d : st->dbs)
    entries[d.name] = d.entries;
  CHECK(entries["log"] == 2);
  CHECK(entries["dir"] == 1);
  CHECK(entries["status"] == 1);
  CHECK(entries["timers"] == 1);
  CHECK(entries["offsets"] == 1);
  CHECK(entries["blobs"] == 1);
  CHECK(entries["meta"] == 1);
}

TEST_CASE("a storage written in a newer format is refused, naming both versions, and left as it was") {
  test::temp_dir dir;
  {
    auto log = open_log(dir.path());
    write_batch b;
    b.create("wf", stream_kind::workflow).append("wf", 1, "submitted");
    REQUIRE(log->commit(std::move(b)));
  }
  // What a later perdure would write: the format byte one higher.
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == MDB_SUCCESS);
  REQUIRE(mdb_env_set_maxdbs(env, 32) == MDB_SUCCESS);
  REQUIRE(mdb_env_open(env, dir.path().c_str(), 0, 0600) == MDB_SUCCESS);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == MDB_SUCCESS);
  MDB_dbi meta;
  REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == MDB_SUCCESS);
  std::string key = "format";
  char newer = static_cast<char>(storage_format_version + 1);
  MDB_val k{key.size(), key.data()}, v{1, &newer};
  REQUIRE(mdb_put(txn, meta, &k, &v, 0) == MDB_SUCCESS);
  REQUIRE(mdb_txn_commit(txn) == MDB_SUCCESS);
  mdb_env_close(env);
  auto data_before = std::filesystem::last_write_time(dir / "data.mdb");

  for (bool read_only : {false, true}) {
    CAPTURE(read_only);
    options opts;
    opts.dir = dir.path();
    opts.mode = durability::process;
    opts.read_only = read_only;
    auto r = event_log::open(opts);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.as_status().code() == errc::unsupported);
    auto text = r.as_status().to_string();
    CHECK(text.find("format version " + std::to_string(storage_format_version + 1))
          != std::string::npos);
    CHECK(text.find("newer perdure") != std::string::npos);
  }
  CHECK(std::filesystem::last_write_time(dir / "data.mdb") == data_before);
}
