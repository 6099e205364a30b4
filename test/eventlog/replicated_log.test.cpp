// SPDX-License-Identifier: Apache-2.0
// An event_log whose durability is a replicated log (options::replicator):
// submitted groups go to the replicator as bytes, are committed only when
// the replicator applies them with apply_group, and complete with
// apply_group's per-batch results. A fake replicator stands for the
// cluster's partition owner: a thread that "reads back" each group and
// applies it (the real one is tested in test/cluster).

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/group_codec.hpp"
#include "perdure/eventlog/replicator.hpp"

#include <doctest/doctest.h>

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

using namespace perdure;
using namespace perdure::eventlog;

namespace {

// Applies each group on its own thread, in order, unless told otherwise.
class fake_replicator final : public group_replicator {
 public:
  enum class mode { apply, refuse, lose, miscount, hold };

  ~fake_replicator() override {
    stop();
  }

  // Ends its thread (what is queued is dropped unreported).
  void stop() {
    {
      std::lock_guard<std::mutex> lock{mu_};
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

  void start(event_log* log) {
    log_ = log;
    thread_ = std::thread{[this] { run(); }};
  }

  void set_mode(mode m) {
    std::lock_guard<std::mutex> lock{mu_};
    mode_ = m;
  }
  // Groups are queued but not applied until resume().
  void pause() {
    std::lock_guard<std::mutex> lock{mu_};
    paused_ = true;
  }
  void resume() {
    {
      std::lock_guard<std::mutex> lock{mu_};
      paused_ = false;
    }
    cv_.notify_all();
  }

  void replicate(std::string group, group_done done) override {
    auto decoded = decode_group(group);
    std::unique_lock<std::mutex> lock{mu_};
    ++handed_;
    largest_ = std::max(largest_, group.size());
    if (decoded)
      handed_batches_ += decoded->batches.size();
    if (mode_ == mode::refuse) {
      lock.unlock();
      done(unexpected{errc::busy, "partition 0 is owned by node-b"});
      return;
    }
    queue_.push_back({std::move(group), std::move(done), mode_});
    cv_.notify_all();
  }

  std::size_t handed() {
    std::lock_guard<std::mutex> lock{mu_};
    return handed_;
  }
  std::size_t largest_group() {
    std::lock_guard<std::mutex> lock{mu_};
    return largest_;
  }
  std::size_t max_group_bytes() const override {
    return limit_;
  }
  // Before the log opens.
  void set_max_group_bytes(std::size_t limit) {
    limit_ = limit;
  }
  std::size_t handed_batches() {
    std::lock_guard<std::mutex> lock{mu_};
    return handed_batches_;
  }
  std::size_t queued() {
    std::lock_guard<std::mutex> lock{mu_};
    return queue_.size();
  }
  std::size_t batches_seen() {
    std::lock_guard<std::mutex> lock{mu_};
    return batches_;
  }
  // The last apply_group's error after close (closed expected).
  status late_apply() {
    std::lock_guard<std::mutex> lock{mu_};
    return late_;
  }

 private:
  struct item {
    std::string bytes;
    group_done done;
    mode how;
  };

  void run() {
    for (;;) {
      item it;
      {
        std::unique_lock<std::mutex> lock{mu_};
        cv_.wait(lock, [&] {
          return stop_ || (!paused_ && !queue_.empty());
        });
        if (stop_ || queue_.empty())
          return;
        it = std::move(queue_.front());
        queue_.pop_front();
      }
      serve(it);
    }
  }

  void serve(item& it) {
    auto g = decode_group(it.bytes);
    if (!g) {
      it.done(unexpected{g.as_status()});
      return;
    }
    {
      std::lock_guard<std::mutex> lock{mu_};
      batches_ += g->batches.size();
    }
    if (it.how == mode::lose) {
      it.done(unexpected{errc::io, "the log lost it"});
      return;
    }
    if (it.how == mode::hold)
      return; // never reported: the log's close decides
    auto n = g->batches.size();
    auto applied = log_->apply_group(std::move(g->batches), g->now,
                                     "node-a#1");
    if (!applied) {
      std::lock_guard<std::mutex> lock{mu_};
      late_ = applied.as_status();
    }
    if (applied && it.how == mode::miscount && n > 0)
      applied->pop_back();
    it.done(std::move(applied));
  }

  event_log* log_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<item> queue_;
  mode mode_ = mode::apply;
  bool paused_ = false;
  bool stop_ = false;
  std::size_t handed_ = 0;
  std::size_t largest_ = 0;
  std::size_t limit_ = 0;
  std::size_t handed_batches_ = 0;
  std::size_t batches_ = 0;
  status late_;
  std::thread thread_;
};

struct replicated_fixture {
  test::temp_dir dir;
  std::shared_ptr<fake_replicator> rep = std::make_shared<fake_replicator>();
  std::unique_ptr<event_log> log;

  explicit replicated_fixture(durability mode = durability::process,
                              std::size_t limit = 0) {
    rep->set_max_group_bytes(limit);
    options o;
    o.dir = dir.path();
    o.mode = mode;
    o.replicator = rep;
    auto r = event_log::open(std::move(o));
    REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
    log = std::move(*r);
    rep->start(log.get());
  }
  ~replicated_fixture() {
    if (log)
      static_cast<void>(log->close());
    rep->stop(); // no apply_group once the log is gone
  }
};

write_batch one(std::string_view stream, std::string payload) {
  write_batch b;
  b.append(stream, 1, std::move(payload));
  return b;
}

} // namespace

TEST_CASE("a replicated log stores only what the replicator applied, with "
          "its stamp, and answers with apply_group's results") {
  replicated_fixture f;
  for (int i = 1; i <= 50; ++i) {
    auto seq = f.log->append("order-1", 1, "step " + std::to_string(i),
                             static_cast<seq_t>(i - 1));
    REQUIRE_MESSAGE(seq.has_value(), seq.as_status().to_string());
    CHECK(*seq == static_cast<seq_t>(i));
  }
  auto recs = f.log->read("order-1");
  REQUIRE(recs);
  REQUIRE(recs->size() == 50);
  CHECK(recs->back().payload == "step 50");
  // Stamped by the replica's apply (the group's writer), not the log's id.
  CHECK(recs->front().writer == "node-a#1");
  CHECK(f.rep->batches_seen() == 50);
  CHECK(f.log->stats().commits == f.rep->handed());
}

TEST_CASE("batches are judged when applied: a stale expect_last fails "
          "alone, the batches around it commit") {
  replicated_fixture f;
  REQUIRE(f.log->append("s", 1, "first"));
  f.rep->pause();
  auto ok1 = f.log->submit(one("a", "x"));
  write_batch stale;
  stale.expect_last("s", 5).append("s", 1, "late");
  auto bad = f.log->submit(std::move(stale));
  auto ok2 = f.log->submit(one("b", "y"));
  REQUIRE(test::wait_until([&] { return f.rep->handed_batches() == 4; }));
  CHECK(f.log->read("a").as_status().code() == errc::not_found);
  f.rep->resume();
  auto r1 = ok1.get();
  auto rb = bad.get();
  auto r2 = ok2.get();
  CHECK(r1.has_value());
  CHECK(r2.has_value());
  REQUIRE_FALSE(rb.has_value());
  CHECK(rb.as_status().code() == errc::conflict);
  CHECK(f.log->read("s")->size() == 1);
  CHECK(f.log->read("b")->front().payload == "y");
}

TEST_CASE("groups over the replicator's size limit are handed over in "
          "parts, and a batch larger than the limit alone is refused") {
  std::vector<write_batch> sample;
  sample.push_back(one("a", std::string(1000, 'x')));
  sample.push_back(one("bb", "y"));
  sample.back().append("c", 2, std::string(77, 'z'));
  CHECK(encoded_group_size(sample) == encode_group(7, sample).size());
  CHECK(encoded_group_size({}) == encode_group(7, {}).size());
  // Room for three 1000-byte batches per group.
  auto limit = encoded_group_size({}) + 3 * encoded_size(sample[0]);
  replicated_fixture f{durability::process, limit};
  f.rep->pause(); // what is submitted meanwhile is one group or more
  std::vector<std::future<result<commit_info>>> futs;
  for (int i = 0; i < 10; ++i)
    futs.push_back(f.log->submit(
      one("s" + std::to_string(i), std::string(1000, 'x'))));
  REQUIRE(test::wait_until([&] { return f.rep->handed_batches() == 10; }));
  CHECK(f.rep->handed() >= 4);
  CHECK(f.rep->largest_group() <= limit);
  f.rep->resume();
  for (auto& fut : futs) {
    auto r = fut.get();
    CHECK_MESSAGE(r.has_value(), r.as_status().to_string());
  }
  for (int i = 0; i < 10; ++i)
    CHECK(f.log->read("s" + std::to_string(i))->size() == 1);
  // One batch alone over the limit: refused, named, nothing stored; the
  // batches around it commit.
  auto before = f.log->submit(one("u", "1"));
  auto big = f.log->submit(one("big", std::string(4 * 1000, 'x')));
  auto after = f.log->submit(one("v", "2"));
  auto rb = big.get();
  REQUIRE_FALSE(rb.has_value());
  CHECK(rb.as_status().code() == errc::invalid_argument);
  CHECK(rb.as_status().message().find("larger than the replicated log")
        != std::string::npos);
  CHECK(before.get().has_value());
  CHECK(after.get().has_value());
  CHECK(f.log->read("big").as_status().code() == errc::not_found);
  CHECK(f.rep->largest_group() <= limit);
}

TEST_CASE("a replicator's refusal reaches the caller with its errc and "
          "stores nothing, also when the completion submits again") {
  replicated_fixture f;
  f.rep->set_mode(fake_replicator::mode::refuse);
  auto r = f.log->append("s", 1, "x");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.as_status().code() == errc::busy);
  CHECK(r.as_status().message().find("node-b") != std::string::npos);
  CHECK(f.log->read("s").as_status().code() == errc::not_found);

  // A completion that submits again (as a workflow's next step does) runs
  // under the committer; its own refusal must not deadlock.
  std::promise<errc> second;
  f.log->submit(one("s", "x"), [&](result<commit_info> first) {
    CHECK_FALSE(first.has_value());
    f.log->submit(one("s", "y"), [&](result<commit_info> again) {
      second.set_value(again ? errc::ok : again.as_status().code());
    });
  });
  auto fut = second.get_future();
  REQUIRE(fut.wait_for(std::chrono::seconds{30})
          == std::future_status::ready);
  CHECK(fut.get() == errc::busy);
}

TEST_CASE("a group the replicated log lost fails with io, and the log goes "
          "on") {
  replicated_fixture f;
  f.rep->set_mode(fake_replicator::mode::lose);
  auto lost = f.log->append("s", 1, "x");
  REQUIRE_FALSE(lost.has_value());
  CHECK(lost.as_status().code() == errc::io);
  f.rep->set_mode(fake_replicator::mode::apply);
  auto kept = f.log->append("s", 1, "y", seq_t{0});
  REQUIRE_MESSAGE(kept.has_value(), kept.as_status().to_string());
  CHECK(*kept == 1);
}

TEST_CASE("a replicator that reports the wrong number of results fails the "
          "group with io instead of mismatching callers") {
  replicated_fixture f;
  f.rep->set_mode(fake_replicator::mode::miscount);
  auto r = f.log->append("s", 1, "x");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.as_status().code() == errc::io);
  CHECK(r.as_status().message().find("results") != std::string::npos);
}

TEST_CASE("closing with groups handed over and undecided completes them "
          "with closed, and a late report touches nothing") {
  replicated_fixture f;
  f.rep->pause();
  std::vector<std::future<result<commit_info>>> futs;
  for (int i = 0; i < 3; ++i)
    futs.push_back(f.log->submit(one("s", "x" + std::to_string(i))));
  REQUIRE(test::wait_until([&] { return f.rep->handed_batches() == 3; }));
  CHECK(f.log->stats().commits == 0);
  CHECK(f.log->close());
  for (auto& fu : futs) {
    REQUIRE(fu.wait_for(std::chrono::seconds{30})
            == std::future_status::ready);
    auto r = fu.get();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.as_status().code() == errc::closed);
  }
  // The replicated log decides them after all: the store is closed and the
  // late reports find nothing.
  f.rep->resume();
  REQUIRE(test::wait_until([&] { return f.rep->queued() == 0; }));
  REQUIRE(test::wait_until(
    [&] { return f.rep->late_apply().code() == errc::closed; }));
}

TEST_CASE("a replicated log on the journal keeps what was applied across "
          "a reopen") {
  test::temp_dir keep;
  {
    replicated_fixture f{durability::sync};
    for (int i = 0; i < 20; ++i)
      REQUIRE(f.log->append("s", 1, std::to_string(i)));
    REQUIRE(f.log->close());
    std::filesystem::copy(f.dir.path(), keep.path() / "copy",
                          std::filesystem::copy_options::recursive);
  }
  auto again = event_log::open({.dir = keep.path() / "copy"});
  REQUIRE_MESSAGE(again.has_value(), again.as_status().to_string());
  auto recs = (*again)->read("s");
  REQUIRE(recs);
  CHECK(recs->size() == 20);
}

TEST_CASE("options a replicated log cannot be opened with are refused") {
  test::temp_dir dir;
  auto rep = std::make_shared<fake_replicator>();
  auto refused = [&](auto change) {
    options o;
    o.dir = dir.path();
    o.replicator = rep;
    change(o);
    return event_log::open(std::move(o)).as_status().code();
  };
  CHECK(refused([](options& o) { o.read_only = true; })
        == errc::invalid_argument);
  CHECK(refused([](options& o) { o.exclusive = false; })
        == errc::invalid_argument);
  CHECK(refused([](options& o) {
          o.mode = durability::sync;
          o.sync = sync_policy::per_commit;
        })
        == errc::invalid_argument);
  CHECK(refused([](options& o) {
          o.mode = durability::sync;
          o.sync = sync_policy::pipelined;
        })
        == errc::invalid_argument);
}
