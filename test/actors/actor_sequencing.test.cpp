// SPDX-License-Identifier: Apache-2.0
// One actor's call sequencing as a state machine, without threads or
// sleeps: the runner's pool is a manual one (tasks run only when the test
// runs them, on the test's thread) and its log is a fake that keeps each
// submitted batch until the test acknowledges or fails it. What the
// SIGKILL and end-to-end suites check through a real engine is pinned here
// one event at a time: arrival order, what one batch holds, that a reply
// waits for its batch's durability, what a failed commit does to the calls
// behind it, and idempotency keys in flight and remembered.

#include "actor_runner.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include <deque>
#include <stdexcept>

using namespace perdure;
using namespace perdure::detail;
using eventlog::record_kind;

namespace {

struct seq_counter {
  int count = 0;
  int add(int x) {
    count += x;
    return count;
  }
  int refuse(int x) {
    count += x; // on a copy: dropped when the method throws
    throw std::runtime_error("refused " + std::to_string(x));
  }
};
PERDURE_ACTOR(seq_counter, (count), (add, refuse))

/// The kinds of the records `b` appends, in order.
std::vector<std::uint16_t> kinds(const eventlog::write_batch& b) {
  std::vector<std::uint16_t> out;
  for (auto& op : b.ops())
    if (op.what == eventlog::write_batch::op::type::append)
      out.push_back(static_cast<std::uint16_t>(op.number));
  return out;
}

/// The seq a batch expects its actor stream to end at.
std::uint64_t expected_last(const eventlog::write_batch& b) {
  for (auto& op : b.ops())
    if (op.what == eventlog::write_batch::op::type::expect_last)
      return op.number;
  FAIL("the batch expects nothing");
  return 0;
}

/// A batch the fake log holds, and the completion the runner gave it.
struct held_batch {
  eventlog::write_batch batch;
  eventlog::event_log::completion done;
  eventlog::event_log::then after = eventlog::event_log::then::goes_on;
};

/// One actor on a manual pool and a fake log, outside any engine's actor
/// service (the engine only answers this_step::engine()).
class fixture {
 public:
  fixture() : eng_{{.storage = dir_.path()}} {
    svc_ = std::make_shared<actor_service>();
    svc_->eng = &eng_;
    svc_->pool = std::make_unique<actor_pool>(actor_pool::manual_t{});
    svc_->submit_to_log = [this](eventlog::write_batch b,
                                 eventlog::event_log::completion done,
                                 eventlog::event_log::then after) {
      log_.push_back({std::move(b), std::move(done), after});
    };
    cell_ = std::make_shared<actor_cell>();
    cell_->svc = svc_;
    cell_->id = "a";
    cell_->stream = stream_of("a");
    cell_->cls = &class_of<seq_counter>();
    runner_ = std::make_shared<cell_runner>();
    cell_->runner = runner_;
    cell_->active = true;
    svc_->live = 1; // what activation counts; finish() takes it back
    loaded_actor loaded;
    loaded.state = std::make_shared<seq_counter>();
    loaded.last_seq = 1; // the creation record
    cell_->snapshot.store(loaded.state);
    runner_->start(cell_, std::move(loaded));
  }
  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;

  ~fixture() {
    // Answer what is still held, then let the runner go with the pool.
    while (!log_.empty())
      fail_next("the test ended");
    svc_->pool->run_queued();
    runner_->begin_stop();
    runner_->stop();
    svc_->pool->run_queued();
    svc_->pool->shutdown(actor_pool::clock::now());
  }

  /// A mutating call of `m` with `arg` under `key`, as call_async makes it.
  template <class M>
  mutation call(M m, int arg, std::string key) {
    mutation mu;
    mu.method = class_of<seq_counter>().find(m);
    REQUIRE(mu.method != nullptr);
    mu.args = codec::encode(std::tuple<int>{arg});
    mu.key = std::move(key);
    mu.done = std::make_shared<call_state>();
    return mu;
  }

  /// Makes call(m, arg, key), posts it, and returns its future.
  template <class M>
  std::shared_ptr<call_state> send(M m, int arg, std::string key) {
    auto mu = call(m, arg, std::move(key));
    auto done = mu.done;
    post(std::move(mu));
    return done;
  }

  /// Posts `e` to the runner and runs what that schedules.
  void post(cell_event e) {
    runner_->post(std::move(e));
    svc_->pool->run_queued();
  }

  /// The log commits its oldest batch: with consecutive seqs, or, as the
  /// real log does, `conflict` when the stream does not end where the
  /// batch expects it to.
  void ack_next() {
    REQUIRE_FALSE(log_.empty());
    auto h = std::move(log_.front());
    log_.pop_front();
    if (expected_last(h.batch) != last_seq_) {
      h.done(unexpected{errc::conflict, "the stream moved on"});
      svc_->pool->run_queued();
      return;
    }
    eventlog::commit_info info;
    for (std::size_t i = 0; i < h.batch.record_count(); ++i)
      info.seqs.push_back(++last_seq_);
    h.done(std::move(info));
    svc_->pool->run_queued();
  }

  /// The log fails its oldest batch.
  void fail_next(std::string why) {
    REQUIRE_FALSE(log_.empty());
    auto h = std::move(log_.front());
    log_.pop_front();
    h.done(unexpected{errc::io, std::move(why)});
    svc_->pool->run_queued();
  }

  /// The count of the committed state that readonly calls see.
  int committed() const {
    auto s = cell_->snapshot.load();
    REQUIRE(s);
    return static_cast<const seq_counter*>(s.get())->count;
  }

  std::deque<held_batch>& log() {
    return log_;
  }

 private:
  test::temp_dir dir_;
  engine eng_;
  std::shared_ptr<actor_service> svc_;
  std::shared_ptr<actor_cell> cell_;
  std::shared_ptr<cell_runner> runner_;
  std::deque<held_batch> log_;
  eventlog::seq_t last_seq_ = 1;
};

int result_of(const call_state& st) {
  auto r = st.wait();
  if (!r)
    FAIL(r.error().to_string());
  auto v = codec::decode<int>(*r);
  REQUIRE(v);
  return *v;
}

const auto called = to_u16(record_kind::actor_called);
const auto failed = to_u16(record_kind::actor_call_failed);

} // namespace

TEST_CASE("calls apply in arrival order, one batch each, and a reply waits for its batch") {
  fixture f;
  auto d1 = f.send(&seq_counter::add, 1, "k1");
  auto d2 = f.send(&seq_counter::add, 10, "k2");
  // Both applied and submitted (pipelined), neither answered yet.
  REQUIRE(f.log().size() == 2);
  CHECK(kinds(f.log()[0].batch) == std::vector<std::uint16_t>{called});
  CHECK(kinds(f.log()[1].batch) == std::vector<std::uint16_t>{called});
  // Each batch expects the stream to end where the one before leaves it.
  CHECK(expected_last(f.log()[0].batch) == 1);
  CHECK(expected_last(f.log()[1].batch) == 2);
  // The first went out alone: its actor waits for it (the log may sync it
  // on the submitting thread); the second has the first in flight.
  using then = eventlog::event_log::then;
  CHECK(f.log()[0].after == then::waits);
  CHECK(f.log()[1].after == then::goes_on);
  CHECK_FALSE(d1->done());
  CHECK_FALSE(d2->done());
  CHECK(f.committed() == 0);

  f.ack_next();
  CHECK(d1->done());
  CHECK(result_of(*d1) == 1);
  CHECK_FALSE(d2->done());
  CHECK(f.committed() == 1); // readonly calls see only durable calls

  f.ack_next();
  CHECK(result_of(*d2) == 11);
  CHECK(f.committed() == 11);
}

TEST_CASE("calls handed over as one message are one batch answered by one acknowledgement") {
  fixture f;
  std::vector<mutation> ms;
  std::vector<std::shared_ptr<call_state>> done;
  for (int i = 1; i <= 3; ++i) {
    ms.push_back(f.call(&seq_counter::add, i, "g" + std::to_string(i)));
    done.push_back(ms.back().done);
  }
  f.post(std::move(ms));
  REQUIRE(f.log().size() == 1);
  CHECK(kinds(f.log()[0].batch)
        == std::vector<std::uint16_t>{called, called, called});
  for (auto& d : done)
    CHECK_FALSE(d->done());
  f.ack_next();
  CHECK(result_of(*done[0]) == 1);
  CHECK(result_of(*done[1]) == 3);
  CHECK(result_of(*done[2]) == 6);
  CHECK(f.committed() == 6);
}

TEST_CASE("a failed commit fails its calls and every call behind it, and the state stays the committed one") {
  fixture f;
  auto da = f.send(&seq_counter::add, 1, "a");
  f.ack_next();
  REQUIRE(result_of(*da) == 1);
  auto db = f.send(&seq_counter::add, 2, "b");
  auto dc = f.send(&seq_counter::add, 4, "c");
  REQUIRE(f.log().size() == 2);

  f.fail_next("disk on fire");
  REQUIRE(db->done());
  auto rb = db->wait();
  REQUIRE_FALSE(rb);
  CHECK(rb.error().message().find("disk on fire") != std::string::npos);
  // c was applied on top of b: the log refuses it (its batch expects b's
  // record), and the runner fails it as doomed.
  REQUIRE(f.log().size() == 1);
  f.ack_next();
  REQUIRE(dc->done());
  auto rc = dc->wait();
  REQUIRE_FALSE(rc);
  CHECK(rc.error().message().find("an earlier call") != std::string::npos);
  CHECK(f.committed() == 1);

  // The next call applies to the committed state again.
  auto dd = f.send(&seq_counter::add, 100, "d");
  REQUIRE(f.log().size() == 1);
  f.ack_next();
  CHECK(result_of(*dd) == 101);
}

TEST_CASE("a key repeated while its call is in flight runs once and both callers get its result") {
  fixture f;
  auto d1 = f.send(&seq_counter::add, 5, "same");
  auto d2 = f.send(&seq_counter::add, 5, "same");
  REQUIRE(f.log().size() == 1); // the repeat logs nothing
  CHECK_FALSE(d2->done());
  f.ack_next();
  CHECK(result_of(*d1) == 5);
  CHECK(result_of(*d2) == 5);
  CHECK(f.committed() == 5);
}

TEST_CASE("a key already durable is answered from memory without running or logging") {
  fixture f;
  auto d1 = f.send(&seq_counter::add, 7, "k");
  f.ack_next();
  REQUIRE(result_of(*d1) == 7);

  auto d2 = f.send(&seq_counter::add, 7, "k");
  CHECK(f.log().empty());
  REQUIRE(d2->done());
  CHECK(result_of(*d2) == 7);
  CHECK(f.committed() == 7);
}

TEST_CASE("a method that throws is logged as failed, leaves the state, and its key remembers the failure") {
  fixture f;
  auto db = f.send(&seq_counter::refuse, 3, "bad");
  auto dg = f.send(&seq_counter::add, 1, "good");
  REQUIRE(f.log().size() == 2);
  CHECK(kinds(f.log()[0].batch) == std::vector<std::uint16_t>{failed});
  CHECK_FALSE(db->done()); // a failure is answered once durable too
  f.ack_next();
  f.ack_next();
  auto rb = db->wait();
  REQUIRE_FALSE(rb);
  CHECK(rb.error().code() == errc::failed);
  CHECK(rb.error().message().find("refused 3") != std::string::npos);
  CHECK(result_of(*dg) == 1); // the throw changed nothing

  auto dr = f.send(&seq_counter::refuse, 3, "bad");
  CHECK(f.log().empty());
  REQUIRE(dr->done());
  CHECK(dr->wait_status().message() == rb.error().message());
}
