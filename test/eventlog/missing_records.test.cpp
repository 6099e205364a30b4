// SPDX-License-Identifier: Apache-2.0
// A stream's records are contiguous from its first to its last seq: a
// record missing from the middle or the end (a damaged key, found by the
// corruption suite) is `corruption` naming the stream and seq for every
// reader, never a silent gap that a fold would skip into a wrong state.

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>
#include <lmdb.h>

#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;

namespace {

// Writes stream `s` with records 1..5, then removes record `seq` with LMDB
// directly (as a flipped key byte would move it away).
void write_then_drop(const std::filesystem::path& dir, seq_t seq) {
  {
    auto log = event_log::open({.dir = dir});
    REQUIRE(log);
    for (int i = 1; i <= 5; ++i)
      REQUIRE((*log)->append("s", 0, "r" + std::to_string(i)));
    REQUIRE((*log)->close());
  }
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 32);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi dbi = 0;
  REQUIRE(mdb_dbi_open(txn, "log", 0, &dbi) == 0);
  std::string key = "s";
  key += '\0';
  for (int b = 7; b >= 0; --b)
    key += static_cast<char>((seq >> (8 * b)) & 0xff);
  MDB_val k{key.size(), key.data()};
  REQUIRE(mdb_del(txn, dbi, &k, nullptr) == 0);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

} // namespace

TEST_CASE("a record missing inside a stream is corruption for scan and read") {
  test::temp_dir dir;
  write_then_drop(dir.path(), 3);
  auto log = event_log::open({.dir = dir.path()});
  REQUIRE(log);
  std::vector<seq_t> seen;
  auto st = (*log)->scan("s", 1, [&](const record_view& r) {
    seen.push_back(r.seq);
    return true;
  });
  CHECK(st == errc::corruption);
  CHECK(st.message().find("'s'") != std::string::npos);
  CHECK(st.message().find("seq 4 where seq 3") != std::string::npos);
  CHECK(seen == std::vector<seq_t>{1, 2});
  CHECK_FALSE((*log)->read("s"));
  // From after the gap, the rest reads fine; a reader that stops before
  // the gap never meets it.
  auto tail = (*log)->read("s", 4);
  REQUIRE(tail);
  CHECK(tail->size() == 2);
  auto head = (*log)->read("s", 1, 2);
  REQUIRE(head);
  CHECK(head->size() == 2);
  auto damage = (*log)->verify();
  REQUIRE(damage);
  CHECK_FALSE(damage->empty());
}

TEST_CASE("a stream whose last records are missing is corruption") {
  test::temp_dir dir;
  write_then_drop(dir.path(), 5);
  auto log = event_log::open({.dir = dir.path()});
  REQUIRE(log);
  auto all = (*log)->read("s");
  REQUIRE_FALSE(all);
  CHECK(all.error() == errc::corruption);
  CHECK(all.error().message().find("before seq 5") != std::string::npos);
  CHECK_FALSE((*log)->read_last("s"));
}
