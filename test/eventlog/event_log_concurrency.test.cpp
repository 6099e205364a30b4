// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;

TEST_CASE("8 threads appending concurrently get exact counts and gapless sequences") {
  test::temp_dir dir;
  options opts;
  opts.dir = dir.path();
  opts.mode = durability::sync;
  auto log = std::move(*event_log::open(opts));
  constexpr int threads = 8, per_thread = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        // Half of them append to a shared stream, half to their own.
        auto shared = log->append("shared", 1, std::to_string(t));
        auto own = log->append("own-" + std::to_string(t), 1, std::to_string(i));
        if (!shared || !own || *own != static_cast<seq_t>(i + 1))
          ++failures;
      }
    });
  for (auto& t : ts)
    t.join();
  CHECK(failures == 0);
  auto recs = log->read("shared");
  REQUIRE(recs);
  REQUIRE(recs->size() == threads * per_thread);
  std::vector<int> per(threads, 0);
  for (std::size_t i = 0; i < recs->size(); ++i) {
    CHECK((*recs)[i].seq == i + 1);
    ++per[std::stoi((*recs)[i].payload)];
  }
  for (int t = 0; t < threads; ++t)
    CHECK(per[t] == per_thread);
  auto s = log->stats();
  CHECK(s.records == 2 * threads * per_thread);
  // Group commit: concurrent appenders share transactions.
  CHECK(s.commits < s.batches);
}

TEST_CASE("callbacks fire only after their batch is readable and in submission order") {
  test::temp_dir dir;
  options opts;
  opts.dir = dir.path();
  opts.mode = durability::process;
  auto log = std::move(*event_log::open(opts));
  std::vector<seq_t> order;
  std::atomic<int> unreadable{0};
  std::mutex mu;
  std::vector<std::future<void>> waits;
  constexpr int n = 500;
  std::promise<void> all;
  std::atomic<int> left{n};
  for (int i = 0; i < n; ++i) {
    write_batch b;
    b.append("s", 1, std::to_string(i));
    log->submit(std::move(b), [&](result<commit_info> r) {
      REQUIRE(r);
      {
        std::lock_guard<std::mutex> g{mu};
        order.push_back(r->seqs.front());
      }
      if (--left == 0)
        all.set_value();
    });
  }
  all.get_future().wait();
  CHECK(unreadable == 0);
  REQUIRE(order.size() == n);
  for (int i = 0; i < n; ++i)
    CHECK(order[i] == static_cast<seq_t>(i + 1));
  CHECK(log->read("s")->size() == n);
}

TEST_CASE("pipelined sync: one sync per commit, the next commit acknowledges the previous one") {
  test::temp_dir dir;
  options opts;
  opts.dir = dir.path();
  opts.mode = durability::sync;
  opts.sync = sync_policy::pipelined;
  opts.max_batches_per_commit = 1; // one commit per batch, queue stays full
  auto log = std::move(*event_log::open(opts));

  // Sequential appends: nothing follows a commit, so each needs an
  // explicit sync before its caller hears back.
  for (int i = 0; i < 5; ++i)
    REQUIRE(log->append("seq", 1, std::to_string(i)));
  auto st = log->stats();
  CHECK(st.commits == 5);
  CHECK(st.syncs == 5);

  // A queue of batches: every commit makes the previous one durable, so
  // only the last (and whatever the writer found idle) needs a sync.
  constexpr int n = 200;
  std::promise<void> all;
  std::atomic<int> left{n};
  std::atomic<int> failed{0};
  std::mutex mu;
  std::vector<seq_t> order;
  for (int i = 0; i < n; ++i) {
    write_batch b;
    b.append("queued", 1, std::to_string(i));
    log->submit(std::move(b), [&](result<commit_info> r) {
      if (!r)
        ++failed;
      else {
        std::lock_guard<std::mutex> g{mu};
        order.push_back(r->seqs.front());
      }
      if (--left == 0)
        all.set_value();
    });
  }
  all.get_future().wait();
  CHECK(failed == 0);
  st = log->stats();
  CHECK(st.commits == 5 + n);
  CHECK(st.syncs < 5 + n / 4);
  REQUIRE(order.size() == n);
  for (int i = 0; i < n; ++i)
    CHECK(order[i] == static_cast<seq_t>(i + 1));

  // Closing makes a held group durable; everything reads back after reopen.
  log.reset();
  auto reopened = event_log::open(opts);
  REQUIRE_MESSAGE(reopened.has_value(), reopened.as_status().to_string());
  log = std::move(*reopened);
  CHECK(log->read("queued")->size() == n);
  CHECK(log->read("seq")->size() == 5);
}

TEST_CASE("per_commit sync acknowledges each commit without extra syncs") {
  test::temp_dir dir;
  options opts;
  opts.dir = dir.path();
  opts.mode = durability::sync;
  opts.sync = sync_policy::per_commit;
  auto log = std::move(*event_log::open(opts));
  for (int i = 0; i < 5; ++i)
    REQUIRE(log->append("s", 1, std::to_string(i)));
  CHECK(log->stats().commits == 5);
  CHECK(log->stats().syncs == 0);
  CHECK(log->read("s")->size() == 5);
}

TEST_CASE("a lone submitter commits its own batches where no sync waits") {
  for (auto mode : {durability::process, durability::sync}) {
    CAPTURE(static_cast<int>(mode));
    test::temp_dir dir;
    options opts;
    opts.dir = dir.path();
    opts.mode = mode; // sync: the journal, whose syncer waits for the disk
    auto log = std::move(*event_log::open(opts));
    auto before = log->stats();
    constexpr int n = 100;
    for (int i = 0; i < n; ++i)
      REQUIRE(log->append("lone", 1, std::to_string(i)).value()
              == static_cast<seq_t>(i + 1));
    auto s = log->stats();
    // The writer thread takes a batch only when its caller cannot commit
    // it: while the writer itself holds the commit lock (woken at open or
    // for a periodic checkpoint), or while a sync holds small groups back.
    // A lone caller waits for each append, so that is seldom.
    CHECK(s.caller_commits - before.caller_commits >= n / 2);
    CHECK(log->read("lone")->size() == n);
  }
}

TEST_CASE("a completion that submits again is committed after it, in "
          "order") {
  for (auto mode : {durability::process, durability::sync}) {
    CAPTURE(static_cast<int>(mode));
    test::temp_dir dir;
    options opts;
    opts.dir = dir.path();
    opts.mode = mode;
    auto log = std::move(*event_log::open(opts));
    // Each completion submits the next batch: in process mode it runs
    // inside the committing thread's commit, which must not lead again.
    constexpr int n = 50;
    std::promise<void> all;
    std::vector<seq_t> seen;
    std::function<void(int)> next = [&](int i) {
      write_batch b;
      b.append("chain", 1, std::to_string(i));
      log->submit(std::move(b), [&, i](result<commit_info> r) {
        seen.push_back(r ? r->seqs.front() : 0);
        if (i + 1 < n)
          next(i + 1);
        else
          all.set_value();
      });
    };
    next(0);
    auto done = all.get_future();
    REQUIRE(done.wait_for(std::chrono::seconds{60})
            == std::future_status::ready);
    REQUIRE(seen.size() == n);
    for (int i = 0; i < n; ++i)
      CHECK(seen[static_cast<std::size_t>(i)] == static_cast<seq_t>(i + 1));
  }
}

TEST_CASE("with the journal, a submitter that waits syncs its batch on its own thread when no sync is in flight") {
  test::temp_dir dir;
  options opts;
  opts.dir = dir.path();
  opts.mode = durability::sync; // the journal
  auto log = std::move(*event_log::open(opts));
  constexpr int n = 100;
  auto run = [&](event_log::then after) {
    int here = 0; // completions run inside this thread's submit()
    const auto me = std::this_thread::get_id();
    for (int i = 0; i < n; ++i) {
      std::promise<result<commit_info>> got;
      std::atomic<bool> inside{true};
      write_batch b;
      b.append("lone", 1, std::to_string(i));
      log->submit(
        std::move(b),
        [&](result<commit_info> r) {
          here += inside && std::this_thread::get_id() == me;
          got.set_value(std::move(r));
        },
        after);
      inside = false;
      REQUIRE(got.get_future().get());
    }
    return here;
  };
  auto before = log->stats();
  // The hand-off: the syncer makes each batch durable and completes it.
  CHECK(run(event_log::then::goes_on) == 0);
  // Waiting submitters: each syncs its own batch (the writer thread holds
  // the commit lock now and then, for a checkpoint: seldom).
  CHECK(run(event_log::then::waits) >= n / 2);
  auto s = log->stats();
  CHECK(s.syncs - before.syncs >= 2 * n * 3 / 4); // one sync per batch
  CHECK(s.sync_ns_total > before.sync_ns_total);
  REQUIRE(log->read("lone")->size() == 2 * n);
}

TEST_CASE("submitters that wait, on several threads and across checkpoints, get exact counts and gapless sequences") {
  test::temp_dir dir;
  options opts;
  opts.dir = dir.path();
  opts.mode = durability::sync;
  opts.checkpoint_interval = std::chrono::milliseconds{1};
  auto log = std::move(*event_log::open(opts));
  constexpr int threads = 4, n = 200;
  std::vector<std::thread> ts;
  std::vector<std::vector<seq_t>> got(threads);
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < n; ++i) {
        // commit() waits: then::waits, so a thread with no sync in flight
        // syncs on its own while the others' batches wait for it.
        auto r = log->append("w" + std::to_string(t), 1, std::to_string(i));
        got[static_cast<std::size_t>(t)].push_back(r ? *r : 0);
      }
    });
  for (auto& t : ts)
    t.join();
  for (int t = 0; t < threads; ++t) {
    CAPTURE(t);
    auto& g = got[static_cast<std::size_t>(t)];
    REQUIRE(g.size() == n);
    for (int i = 0; i < n; ++i)
      CHECK(g[static_cast<std::size_t>(i)] == static_cast<seq_t>(i + 1));
    CHECK(log->read("w" + std::to_string(t))->size() == n);
  }
  CHECK(log->stats().checkpoints > 0);
  REQUIRE(log->close());
}
