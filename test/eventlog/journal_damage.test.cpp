// SPDX-License-Identifier: Apache-2.0
// The journal-damage suite: a storage left open by a crash, its journal or
// data file damaged the ways a real machine or operator damages them, then
// opened with and without a (simulated) reboot. Either every acknowledged
// record is back and verify() is clean, or the open is refused with
// `corruption` and the storage's files are byte for byte what they were.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/recovery.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "child_process.hpp"
#include "journal_support.hpp"
#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;
using namespace perdure::test;
namespace fs = std::filesystem;

namespace {

using files = std::map<std::string, std::string>;

// Every file of the storage but the lock files, which any open touches and
// which hold no data.
files snapshot(const fs::path& dir) {
  files out;
  for (auto& e : fs::directory_iterator{dir}) {
    auto name = e.path().filename().string();
    if (name != "lock.mdb" && name != "perdure.lock")
      out[name] = slurp(e.path());
  }
  return out;
}

void restore(const fs::path& dir, const files& f) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (auto& [name, bytes] : f)
    spit(dir / name, bytes);
}

std::uint64_t generation_of(const std::string& journal) {
  std::uint64_t g = 0;
  if (journal.size() >= 28)
    std::memcpy(&g, journal.data() + 20, 8); // magic, crc, len, version
  return g;
}

// The current journal file: the one whose header names the newer
// generation.
std::string current_journal(const files& f) {
  auto g0 = f.count("journal-0") ? generation_of(f.at("journal-0")) : 0;
  auto g1 = f.count("journal-1") ? generation_of(f.at("journal-1")) : 0;
  return g1 > g0 ? "journal-1" : "journal-0";
}

struct entry_pos {
  std::size_t at;
  std::size_t len; // of the whole entry, head included
};

// Entries of a journal file as FORMAT.md lays them out.
std::vector<entry_pos> entries_of(const std::string& j) {
  std::vector<entry_pos> out;
  std::size_t at = 4096;
  while (at + 8 <= j.size()) {
    std::uint32_t len = 0;
    std::memcpy(&len, j.data() + at, 4);
    if (len == 0)
      break;
    out.push_back({at, 8 + std::size_t{len}});
    at += 8 + len;
  }
  return out;
}

std::string payload(int s, int i) {
  return std::string(static_cast<std::size_t>(20 + (i * 37) % 300),
                     static_cast<char>('a' + (s + i) % 26))
         + "#" + std::to_string(i);
}

// A storage left open by a crash, its second session: the first was
// closed cleanly (so the current journal generation has a sealed
// predecessor). `older_prev` is data.mdb during the first session,
// `older_here` during the second, after its checkpoint.
struct crashed_storage {
  files at_crash;
  std::string older_prev;
  std::string older_here;
  files journals_prev; // the journal files when older_prev was taken
  expected_map want;
};

crashed_storage make_crashed(const fs::path& dir) {
  crashed_storage out;
  int n = 0;
  auto write = [&](event_log& log, int count) {
    for (int i = 0; i < count; ++i, ++n) {
      write_batch b;
      auto s = "s" + std::to_string(n % 3);
      b.append(s, 1, payload(n % 3, n)).put_offset("off/" + s, n);
      if (n % 7 == 0)
        b.set_status(s, n % 2 ? "running" : "waiting");
      REQUIRE(log.commit(std::move(b)));
      out.want[s].push_back(payload(n % 3, n));
    }
  };
  {
    auto log = open_ok(journal_opts(dir));
    write(*log, 6);
    out.older_prev = slurp(dir / "data.mdb");
    for (auto name : {"journal-0", "journal-1"})
      out.journals_prev[name] = slurp(dir / name);
    write(*log, 6);
  }
  auto log = open_ok(journal_opts(dir));
  write(*log, 8);
  out.older_here = slurp(dir / "data.mdb");
  write(*log, 16);
  // The log stays open: the files are what a crash (or a power loss after
  // which the OS had written everything) leaves.
  out.at_crash = snapshot(dir);
  return out;
}

enum class outcome { recovered, refused };

// Opens the damaged storage in `dir` and checks the contract; returns what
// happened.
outcome open_damaged(const fs::path& dir, const expected_map& want,
                     bool reboot) {
  auto before = snapshot(dir);
  other_boot boot{reboot};
  auto r = event_log::open(journal_opts(dir));
  if (!r) {
    CHECK_MESSAGE(r.error().code() == errc::corruption,
                  r.error().to_string());
    CHECK(r.error().message().find(dir.string()) != std::string::npos);
    auto after = snapshot(dir);
    CHECK(after.size() == before.size());
    for (auto& [name, bytes] : before) {
      CAPTURE(name);
      REQUIRE(after.count(name) == 1);
      CHECK(after.at(name) == bytes);
    }
    return outcome::refused;
  }
  auto& log = **r;
  for (auto& [stream, payloads] : want) {
    CAPTURE(stream);
    auto recs = log.read(stream);
    REQUIRE_MESSAGE(recs.has_value(), recs.as_status().to_string());
    REQUIRE(recs->size() == payloads.size());
    for (std::size_t i = 0; i < payloads.size(); ++i)
      CHECK((*recs)[i].payload == payloads[i]);
  }
  auto damage = log.verify();
  REQUIRE(damage);
  CHECK(damage->empty());
  return outcome::recovered;
}

} // namespace

TEST_CASE("journal damage: truncation at every entry boundary and mid-entry is refused, files unchanged") {
  test::temp_dir dir;
  auto c = make_crashed(dir / "orig");
  auto cur = current_journal(c.at_crash);
  auto entries = entries_of(c.at_crash.at(cur));
  REQUIRE(entries.size() >= 16);
  auto work = dir / "work";
  for (bool reboot : {false, true}) {
    CAPTURE(reboot);
    std::vector<std::size_t> cuts{4096, 2048, 0};
    for (auto& e : entries) {
      cuts.push_back(e.at);
      cuts.push_back(e.at + e.len / 2);
      cuts.push_back(e.at + 3);
    }
    cuts.push_back(entries.back().at + entries.back().len);
    for (auto cut : cuts) {
      CAPTURE(cut);
      auto f = c.at_crash;
      f[cur].resize(cut);
      restore(work, f);
      CHECK(open_damaged(work, c.want, reboot) == outcome::refused);
    }
  }
}

TEST_CASE("journal damage: a flipped bit in any entry or in the header is refused, files unchanged") {
  test::temp_dir dir;
  auto c = make_crashed(dir / "orig");
  auto cur = current_journal(c.at_crash);
  auto entries = entries_of(c.at_crash.at(cur));
  auto work = dir / "work";
  for (bool reboot : {false, true}) {
    CAPTURE(reboot);
    std::vector<std::size_t> where{9, 20, 100, 300};
    int k = 0;
    for (auto& e : entries) {
      where.push_back(e.at + 1 + (k * 13) % (e.len - 1));
      where.push_back(e.at + e.len - 1);
      ++k;
    }
    for (auto at : where) {
      CAPTURE(at);
      auto f = c.at_crash;
      f[cur][at] = static_cast<char>(f[cur][at] ^ (1 << (at % 8)));
      restore(work, f);
      CHECK(open_damaged(work, c.want, reboot) == outcome::refused);
    }
  }
}

TEST_CASE("journal damage: an emptied journal, an older or a deleted data.mdb never opens an emptier store") {
  test::temp_dir dir;
  auto c = make_crashed(dir / "orig");
  auto cur = current_journal(c.at_crash);
  auto work = dir / "work";
  for (bool reboot : {false, true}) {
    CAPTURE(reboot);
    SUBCASE("undamaged: recovered") {
      restore(work, c.at_crash);
      CHECK(open_damaged(work, c.want, reboot) == outcome::recovered);
    }
    SUBCASE("the current journal file emptied") {
      auto f = c.at_crash;
      f[cur].clear();
      restore(work, f);
      CHECK(open_damaged(work, c.want, reboot) == outcome::refused);
    }
    SUBCASE("both journal files emptied") {
      auto f = c.at_crash;
      f["journal-0"].clear();
      f["journal-1"].clear();
      restore(work, f);
      // Nothing says what the journal held; LMDB holds everything here,
      // and the contract still holds either way.
      static_cast<void>(open_damaged(work, c.want, reboot));
    }
    SUBCASE("data.mdb from the previous session (older than the checkpoint)") {
      auto f = c.at_crash;
      f["data.mdb"] = c.older_prev;
      restore(work, f);
      CHECK(open_damaged(work, c.want, reboot) == outcome::refused);
    }
    SUBCASE("data.mdb from this session, before its last writes") {
      auto f = c.at_crash;
      f["data.mdb"] = c.older_here;
      restore(work, f);
      CHECK(open_damaged(work, c.want, reboot) == outcome::recovered);
    }
    SUBCASE("data.mdb of another storage, further along") {
      auto other = dir / ("other" + std::to_string(reboot));
      {
        auto log = open_ok(journal_opts(other));
        for (int i = 0; i < 60; ++i)
          REQUIRE(log->append("x" + std::to_string(i % 5), 1, payload(9, i)));
      }
      auto f = c.at_crash;
      f["data.mdb"] = slurp(other / "data.mdb");
      restore(work, f);
      CHECK(open_damaged(work, c.want, reboot) == outcome::refused);
    }
    SUBCASE("the journal files of an earlier backup beside today's data.mdb") {
      auto f = c.at_crash;
      for (auto& [name, bytes] : c.journals_prev)
        f[name] = bytes;
      restore(work, f);
      // Its checkpoint's pages have long been reused: the journal is not
      // this data file's.
      CHECK(open_damaged(work, c.want, reboot) == outcome::refused);
    }
    SUBCASE("data.mdb deleted") {
      auto f = c.at_crash;
      f.erase("data.mdb");
      restore(work, f);
      CHECK(open_damaged(work, c.want, reboot) == outcome::refused);
      CHECK_FALSE(fs::exists(work / "data.mdb"));
    }
    SUBCASE("data.mdb deleted after a clean close") {
      restore(work, c.at_crash);
      open_ok(journal_opts(work)).reset();
      fs::remove(work / "data.mdb");
      CHECK(open_damaged(work, c.want, reboot) == outcome::refused);
      // A tool beside it must not create one either.
      options o;
      o.dir = work;
      o.exclusive = false;
      auto r = event_log::open(o);
      REQUIRE_FALSE(r);
      CHECK(r.error().code() == errc::corruption);
      CHECK_FALSE(fs::exists(work / "data.mdb"));
    }
  }
}

TEST_CASE("journal damage: a recovery interrupted by a crash is finished from its undo copy") {
  test::temp_dir dir;
  auto c = make_crashed(dir / "orig");
  auto work = dir / "work";
  for (bool with_tmp : {false, true}) {
    CAPTURE(with_tmp);
    restore(work, c.at_crash);
    // What a crash in the middle of a replay leaves: the undo copy of
    // data.mdb, and data.mdb half rewritten.
    fs::copy_file(work / "data.mdb", work / "data.mdb.undo");
    auto data = slurp(work / "data.mdb");
    for (std::size_t at = 0; at < data.size(); at += 4096 * 3)
      data[at + 100] = 'X';
    spit(work / "data.mdb", data);
    if (with_tmp)
      spit(work / "data.mdb.undo.tmp", "partial");
    other_boot boot{true};
    auto plan = plan_recovery(work);
    REQUIRE(plan);
    CHECK(plan->undo_pending);
    CHECK(plan->what == recovery_plan::action::replay);
    CHECK(open_damaged(work, c.want, false) == outcome::recovered);
    CHECK_FALSE(fs::exists(work / "data.mdb.undo"));
    CHECK_FALSE(fs::exists(work / "data.mdb.undo.tmp"));
  }
}

TEST_CASE("journal damage: plan_recovery says what an open would do, without writing") {
  test::temp_dir dir;
  auto c = make_crashed(dir / "orig");
  auto work = dir / "work";
  restore(work, c.at_crash);
  auto before = snapshot(work);
  {
    auto p = plan_recovery(work);
    REQUIRE(p);
    CHECK(p->what == recovery_plan::action::checkpoint);
    CHECK(p->journal_version == 2);
    CHECK(p->entries >= 16);
    CHECK(p->data_txnid >= p->last_txnid);
  }
  {
    other_boot boot{true};
    auto p = plan_recovery(work);
    REQUIRE(p);
    CHECK(p->what == recovery_plan::action::replay);
    CHECK(p->rebooted);
    CHECK(p->replay == 16 + 8);
    CHECK(p->journal_end_kind == "zeros");
  }
  auto f = c.at_crash;
  f["data.mdb"] = c.older_prev;
  restore(work, f);
  auto p = plan_recovery(work);
  REQUIRE(p);
  CHECK(p->what == recovery_plan::action::refuse);
  CHECK(p->problem.code() == errc::corruption);
  CHECK(p->problem.message().find("older than the checkpoint")
        != std::string::npos);
  restore(work, c.at_crash);
  CHECK(snapshot(work) == before);
}

// Opens the storage given as argument (under the boot id the parent set)
// and says so: the open replays when the journal is from another boot.
PERDURE_CHILD_ENTRY("damage_open") {
  auto r = event_log::open(journal_opts(args.at(0)));
  std::printf("%s\n", r ? "opened" : r.as_status().to_string().c_str());
  std::fflush(stdout);
  return r ? 0 : 3;
}

TEST_CASE("journal damage: a SIGKILL during a replay leaves a storage the next open recovers") {
  test::temp_dir dir;
  expected_map want;
  files at_crash;
  {
    auto log = open_ok(journal_opts(dir / "orig"));
    for (int i = 0; i < 4000; ++i) {
      auto s = "k" + std::to_string(i % 4);
      REQUIRE(log->append(s, 1, payload(i % 4, i)));
      want[s].push_back(payload(i % 4, i));
    }
    at_crash = snapshot(dir / "orig");
  }
  auto work = dir / "work";
  int hits = 0;
  for (int attempt = 0; attempt < 20 && hits < 2; ++attempt) {
    CAPTURE(attempt);
    restore(work, at_crash);
    bool killed = false;
    {
      other_boot boot{true};
      test::child_process child{"damage_open", {work.string()}};
      // Kill once the replay has begun: the undo copy is in place.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
      while (std::chrono::steady_clock::now() < deadline) {
        if (fs::exists(work / "data.mdb.undo")) {
          child.kill();
          killed = true;
          break;
        }
        if (fs::exists(work / "journal-1")
            && fs::file_size(work / "journal-1") > 4096)
          break; // the replay finished and checkpointed: missed
        std::this_thread::sleep_for(std::chrono::microseconds{200});
      }
      if (!killed) {
        CHECK(child.read_line() == "opened");
        CHECK(child.wait() == 0);
        continue;
      }
    }
    if (!fs::exists(work / "data.mdb.undo"))
      continue; // it ended just before the kill
    ++hits;
    CHECK(open_damaged(work, want, true) == outcome::recovered);
    CHECK_FALSE(fs::exists(work / "data.mdb.undo"));
  }
  CHECK(hits >= 1);
}
