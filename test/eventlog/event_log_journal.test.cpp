// SPDX-License-Identifier: Apache-2.0
// The redo journal (sync_policy::journal): one journal sync per group, and
// recovery after a reboot. A reboot is simulated by copying the storage
// files as the disk could hold them after a power loss and opening the copy
// under another boot id (PERDURE_BOOT_ID).

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>

#include "child_process.hpp"
#include "journal_images.hpp"
#include "journal_support.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

using namespace perdure;
using namespace perdure::eventlog;
using namespace perdure::test;
namespace fs = std::filesystem;

namespace {

// For child processes, where doctest's REQUIRE cannot run.
std::unique_ptr<event_log> open_or_exit(options o) {
  auto r = event_log::open(std::move(o));
  if (!r) {
    std::fprintf(stderr, "open: %s\n", r.as_status().to_string().c_str());
    std::exit(3);
  }
  return std::move(*r);
}

} // namespace

TEST_CASE("journal: each acknowledged group costs one journal sync and no LMDB sync") {
  test::temp_dir dir;
  auto log = open_ok(journal_opts(dir.path()));
  auto before = log->stats();
  CHECK(before.checkpoints == 1); // the one at open
  for (int i = 0; i < 20; ++i)
    REQUIRE(log->append("s", 1, "r" + std::to_string(i)));
  auto after = log->stats();
  CHECK(after.commits - before.commits == 20);
  CHECK(after.syncs - before.syncs == 20);
  CHECK(after.checkpoints == 1);
  CHECK(fs::exists(dir / "journal-0"));
  log.reset();
  // A clean close needs nothing replayed: the contents are simply there.
  log = open_ok(journal_opts(dir.path()));
  CHECK(log->read("s")->size() == 20);
}

TEST_CASE("journal: after a simulated power loss every acknowledged write is recovered, whatever pages reached the disk") {
  test::temp_dir dir;
  expected_map want;
  {
    auto log = open_ok(journal_opts(dir.path()));
    for (int i = 0; i < 30; ++i) {
      REQUIRE(log->append("early", 1, payload(0, i)));
      want["early"].push_back(payload(0, i));
    }
  }
  // Reopen: the open's checkpoint syncs LMDB; this is what the disk holds.
  auto log = open_ok(journal_opts(dir.path()));
  auto at_checkpoint = slurp(dir / "data.mdb");
  const auto checkpoints = log->stats().checkpoints;
  // Writes after the checkpoint, of every kind the journal must replay.
  std::vector<std::future<result<commit_info>>> acks;
  for (int i = 0; i < 400; ++i) {
    write_batch b;
    auto s = "s" + std::to_string(i % 7);
    b.append(s, 2, payload(i % 7, i)).put_offset("off/" + s, i);
    if (i % 50 == 0)
      b.set_status(s, i % 100 == 0 ? "running" : "waiting")
        .put_timer(1000 + i, s, "t" + std::to_string(i));
    want[s].push_back(payload(i % 7, i));
    acks.push_back(log->submit(std::move(b)));
  }
  {
    write_batch b;
    b.drop_before("early", 11).remove_timer(1000, "s0", "t0");
    acks.push_back(log->submit(std::move(b)));
    want["early"].erase(want["early"].begin(), want["early"].begin() + 10);
  }
  // A conflicting batch fails and must stay failed after replay.
  {
    write_batch b;
    b.expect_last("s1", 3).append("s1", 9, "never");
    CHECK_FALSE(log->commit(std::move(b)));
  }
  for (auto& a : acks)
    REQUIRE(a.get());
  auto blob_key = [&] {
    write_batch b;
    auto k = b.put_blob(std::string(20000, 'z'));
    REQUIRE(log->commit(std::move(b)));
    return k;
  }();
  // The disk model below holds only if no later checkpoint synced
  // data.mdb (none is due; a refused batch must not force one either).
  REQUIRE(log->stats().checkpoints == checkpoints);
  auto final_data = slurp(dir / "data.mdb");
  auto journals = slurp_journals(dir.path());
  // Every acknowledged entry is in the journal files now (synced).
  for (int mode = 0; mode < 12; ++mode) {
    CAPTURE(mode);
    std::mt19937 rng(static_cast<unsigned>(mode * 7919 + 1));
    auto crash = dir / ("crash" + std::to_string(mode));
    copy_storage(journals, crash,
                 mix_pages(at_checkpoint, final_data, rng, mode < 2 ? mode : 2));
    other_boot reboot;
    auto r = open_ok(journal_opts(crash));
    check_contents(*r, want);
    CHECK(r->info("s0")->status == "waiting"); // set at i = 0, then 350
    CHECK(*r->offset("off/s3") == 395);
    CHECK(r->blob(blob_key)->size() == 20000);
    auto due = r->timers_due(1 << 30);
    REQUIRE(due);
    CHECK(due->size() == 7); // 8 timers put, one removed
    CHECK(r->read("s1")->back().kind == 2);
    // The recovered storage takes new writes and reopens cleanly.
    REQUIRE(r->append("after", 1, "x"));
    r.reset();
    auto again = open_ok(journal_opts(crash));
    CHECK(again->read("after")->size() == 1);
    check_contents(*again, want);
  }
}

// LMDB does not use up the txnid of a commit that changed nothing; such a
// group once looked like another process's commit and forced a full
// checkpoint (and broke the power-loss model above when it came alone).
TEST_CASE("journal: a group that changes nothing costs no checkpoint and recovery replays around it") {
  test::temp_dir dir;
  expected_map want;
  {
    auto first = open_ok(journal_opts(dir.path()));
    for (int i = 1; i <= 5; ++i) {
      want["a"].push_back(payload(0, i));
      REQUIRE(first->append("a", 1, want["a"].back()));
    }
  }
  auto log = open_ok(journal_opts(dir.path()));
  auto at_checkpoint = slurp(dir / "data.mdb");
  const auto checkpoints = log->stats().checkpoints;
  for (int i = 6; i <= 12; ++i) {
    write_batch refused; // alone in its group: every batch refused
    refused.expect_last("a", 99).append("a", 1, "never");
    CHECK(log->commit(std::move(refused)).as_status().code()
          == errc::conflict);
    write_batch noop; // accepted, but nothing to change
    noop.remove_timer(7, "a", "no-such-timer");
    CHECK(log->commit(std::move(noop)));
    want["a"].push_back(payload(0, i));
    REQUIRE(log->append("a", 1, want["a"].back()));
  }
  CHECK(log->stats().checkpoints == checkpoints);
  auto journals = slurp_journals(dir.path());
  for (bool old_pages : {true, false}) {
    CAPTURE(old_pages);
    auto crash = dir / (old_pages ? "old" : "new");
    copy_storage(journals, crash,
                 old_pages ? at_checkpoint : slurp(dir / "data.mdb"));
    other_boot reboot;
    auto r = open_ok(journal_opts(crash));
    check_contents(*r, want);
    REQUIRE(r->append("a", 1, "after"));
  }
}

TEST_CASE("journal: full journal files start new checkpoints and recovery uses the newest") {
  test::temp_dir dir;
  auto o = journal_opts(dir.path());
  o.journal_size = 1 << 20;
  auto log = open_ok(o);
  expected_map want;
  for (int i = 0; i < 5000; ++i) {
    auto s = "g" + std::to_string(i % 3);
    REQUIRE(log->append(s, 1, payload(i % 3, i)));
    want[s].push_back(payload(i % 3, i));
  }
  CHECK(log->stats().checkpoints >= 3);
  auto crash = dir / "crash";
  copy_storage(slurp_journals(dir.path()), crash, slurp(dir / "data.mdb"));
  other_boot reboot;
  auto o2 = o;
  o2.dir = crash;
  auto r = open_ok(o2);
  check_contents(*r, want);
}

// Appends to 3 streams, record I of stream S at seq I, and prints "ack S I"
// once it is durable, until killed. Checkpoints every 50 ms.
PERDURE_CHILD_ENTRY("journal_append_forever") {
  auto o = journal_opts(args.at(0));
  o.checkpoint_interval = std::chrono::milliseconds{50};
  o.journal_size = 1 << 20;
  auto log = open_or_exit(o);
  std::mutex out;
  std::vector<std::thread> ts;
  for (int s = 0; s < 3; ++s)
    ts.emplace_back([&, s] {
      auto k = "k" + std::to_string(s);
      auto info = log->info(k);
      int from = info ? static_cast<int>(info->last_seq) + 1 : 1;
      for (int i = from;; ++i) {
        write_batch b;
        b.append(k, 1, payload(s, i)).put_offset(k, i);
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

TEST_CASE("journal: SIGKILL, with and without a reboot: every acknowledged record is there exactly once") {
  test::temp_dir dir;
  int acked[3] = {0, 0, 0};
  for (int round = 0; round < 4; ++round) {
    CAPTURE(round);
    {
      test::child_process child{"journal_append_forever",
                                {dir.path().string()}};
      for (int lines = 0; lines < 300 + 200 * round; ++lines) {
        auto line = child.read_line();
        REQUIRE_FALSE(line.empty());
        int s = 0, i = 0;
        REQUIRE(std::sscanf(line.c_str(), "ack %d %d", &s, &i) == 2);
        acked[s] = std::max(acked[s], i);
      }
      child.kill();
    }
    // Every other round pretends the machine rebooted in between.
    std::string id = "boot-" + std::to_string(round);
    if (round % 2 == 0)
      ::setenv("PERDURE_BOOT_ID", id.c_str(), 1);
    {
      auto log = open_ok(journal_opts(dir.path()));
      for (int s = 0; s < 3; ++s) {
        auto k = "k" + std::to_string(s);
        auto recs = log->read(k);
        REQUIRE(recs);
        REQUIRE(static_cast<int>(recs->size()) >= acked[s]);
        for (std::size_t i = 0; i < recs->size(); ++i) {
          REQUIRE((*recs)[i].seq == i + 1);
          REQUIRE((*recs)[i].payload == payload(s, static_cast<int>(i + 1)));
        }
        CHECK(*log->offset(k) == static_cast<std::int64_t>(recs->size()));
      }
      auto damage = log->verify();
      REQUIRE(damage);
      CHECK(damage->empty());
    }
    ::unsetenv("PERDURE_BOOT_ID");
  }
}

// Appends N records to stream "foreign" beside a running owner (a tool's
// non-exclusive writer), then prints "done".
PERDURE_CHILD_ENTRY("journal_foreign_writer") {
  options o;
  o.dir = args.at(0);
  o.exclusive = false;
  auto log = open_or_exit(o);
  int n = std::stoi(args.at(1));
  for (int i = 1; i <= n; ++i)
    if (!log->append("foreign", 1, "f" + std::to_string(i)))
      return 2;
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}

TEST_CASE("journal: a writer beside the owner is not rolled back by recovery") {
  test::temp_dir dir;
  auto log = open_ok(journal_opts(dir.path()));
  for (int i = 0; i < 10; ++i)
    REQUIRE(log->append("own", 1, "o" + std::to_string(i)));
  {
    test::child_process child{"journal_foreign_writer",
                              {dir.path().string(), "5"}};
    CHECK(child.read_line() == "done");
    CHECK(child.wait() == 0);
  }
  CHECK(fs::exists(dir / "journal-foreign"));
  // The foreign writer synced the whole data file: the disk holds this.
  auto at_checkpoint = slurp(dir / "data.mdb");
  SUBCASE("the owner does not write after it") {
  }
  SUBCASE("the owner writes after it") {
    for (int i = 10; i < 20; ++i)
      REQUIRE(log->append("own", 1, "o" + std::to_string(i)));
  }
  auto own = log->read("own")->size();
  auto final_data = slurp(dir / "data.mdb");
  auto journals = slurp_journals(dir.path());
  for (int mode = 0; mode < 6; ++mode) {
    CAPTURE(mode);
    std::mt19937 rng(static_cast<unsigned>(mode + 17));
    auto crash = dir / ("crash" + std::to_string(own) + "-" + std::to_string(mode));
    copy_storage(journals, crash,
                 mix_pages(at_checkpoint, final_data, rng, mode < 2 ? mode : 2));
    other_boot reboot;
    auto r = open_ok(journal_opts(crash));
    CHECK(r->read("own")->size() == own);
    auto f = r->read("foreign");
    REQUIRE(f);
    CHECK(f->size() == 5);
    auto damage = r->verify();
    REQUIRE(damage);
    CHECK(damage->empty());
  }
}

TEST_CASE("journal: a reader or tool opening after a reboot replays the journal first") {
  test::temp_dir dir;
  auto log = open_ok(journal_opts(dir.path()));
  for (int i = 0; i < 25; ++i)
    REQUIRE(log->append("r", 1, payload(1, i)));
  auto crash = dir / "crash";
  copy_storage(slurp_journals(dir.path()), crash, slurp(dir / "data.mdb"));
  other_boot reboot;
  options ro;
  ro.dir = crash;
  ro.read_only = true;
  auto r = open_ok(ro);
  auto recs = r->read("r");
  REQUIRE(recs);
  CHECK(recs->size() == 25);
}

TEST_CASE("journal: bad journal options are refused") {
  test::temp_dir dir;
  auto o = journal_opts(dir.path());
  o.journal_size = 1000;
  auto r = event_log::open(o);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::invalid_argument);
  o = journal_opts(dir.path());
  o.checkpoint_interval = std::chrono::milliseconds{0};
  r = event_log::open(o);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::invalid_argument);
}

TEST_CASE("journal: queued batches are acknowledged in order, many per journal sync") {
  test::temp_dir dir;
  auto o = journal_opts(dir.path());
  o.max_batches_per_commit = 1; // one LMDB commit per batch
  auto log = open_ok(o);
  auto before = log->stats();
  constexpr int n = 300;
  std::promise<void> all;
  std::atomic<int> left{n};
  std::mutex mu;
  std::vector<seq_t> order;
  // Completions run on the syncer thread: the first one holds it until
  // the writer committed all but a held-back tail (commit_queue keeps
  // fewer than 32 small batches back while a sync is in flight), so the
  // writer provably commits while the syncer is busy, whatever the speed.
  bool committed_meanwhile = false;
  for (int i = 0; i < n; ++i) {
    write_batch b;
    b.append("q", 1, std::to_string(i));
    log->submit(std::move(b), [&](result<commit_info> r) {
      bool first = false;
      {
        std::lock_guard<std::mutex> g{mu};
        order.push_back(r ? r->seqs.front() : 0);
        first = order.size() == 1;
      }
      if (first)
        committed_meanwhile = wait_until(
          [&] { return log->stats().commits - before.commits >= n - 32; });
      if (--left == 0)
        all.set_value();
    });
  }
  all.get_future().wait();
  REQUIRE(committed_meanwhile);
  auto st = log->stats();
  CHECK(st.commits - before.commits == n);
  // The groups committed while the syncer was held share one sync.
  CHECK(st.syncs - before.syncs < (st.commits - before.commits) / 2);
  REQUIRE(order.size() == n);
  for (int i = 0; i < n; ++i)
    CHECK(order[static_cast<std::size_t>(i)] == static_cast<seq_t>(i + 1));
}
