// SPDX-License-Identifier: Apache-2.0
// Any node serves any id: engine_host::try_* through a node that does not
// lead the id's partition reach the owner's door (CAF's network layer, on
// loopback) and return its answer; a run in flight while the owner stops
// is tried again on the next owner and runs once; signals and promise
// settlements are keyed (sent again, they apply once); list, remove and
// resume reach every partition's owner. On the 3-broker mock.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/cluster/engine_host.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include "node_test_util.hpp"
#include "temp_dir.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

std::array<std::atomic<int>, 4> fw_runs{};
step_gate fw_gate; // step 2 waits while it is closed

const auto fw_add = step("fw_add", [](int x, int k) {
  ++fw_runs[static_cast<std::size_t>(k)];
  if (k == 2)
    fw_gate.pass();
  return x + k;
});

const auto fw_plus = step("fw_plus", [](int x, int y) { return x + y; });

workflow<int> fw_chain() {
  return fw_add(fw_add(fw_add(0, 1), 2), 3);
}

workflow<int> fw_waits() {
  return fw_plus(wait_for_signal<int>("n"), 100);
}

workflow<int> fw_two_signals() {
  return fw_plus(wait_for_signal<int>("n"), wait_for_signal<int>("n"));
}

workflow<int> fw_promised() {
  return fw_plus(wait_for_promise<int>("ok"), 100);
}

engine_host_options fw_options(const kafka_mock_process& mock,
                               const std::filesystem::path& dir,
                               const std::string& id) {
  engine_host_options o;
  o.node = node_options_for(mock, "fwd", dir, id);
  o.engine.actor_threads = 1;
  o.engine.stop_timeout = std::chrono::milliseconds{200};
  o.serve_address = "127.0.0.1:0";
  return o;
}

template <class R>
auto got(R r) {
  REQUIRE_MESSAGE(r, r.error().to_string());
  return std::move(r).value();
}

bool status_is(engine_host& h, const std::string& id, workflow_status s) {
  auto r = h.try_status(id);
  return r && *r == s;
}

std::string fw_id_in(const partition_map& map, partition_id p) {
  for (int i = 0;; ++i) {
    auto id = "fwd-" + std::to_string(i);
    if (map.partition_of(id) == p)
      return id;
  }
}

// The owner knows it leads and the other host knows the owner's door.
bool settled(engine_host& owner, engine_host& other, const std::string& id) {
  auto p = owner.routing().partition_of(id);
  if (!owner.engine_of(p))
    return false;
  auto parts = other.cluster_node().partitions();
  return parts.at(p).owner_endpoint
         == "127.0.0.1:" + std::to_string(*owner.door_port());
}

// Host a leads the log's one partition and host b knows a's door; `id`
// lives there. Members go in reverse: the hosts before the dir and mock.
struct one_owner {
  std::unique_ptr<kafka_mock_process> mock = start_mock("fwd", 1);
  temp_dir dir;
  std::unique_ptr<engine_host> a, b;
  std::string id;

  one_owner() {
    a = got(engine_host::start(fw_options(*mock, dir / "a", "a")));
    REQUIRE(a->door_port());
    REQUIRE(wait_until([&] { return a->running().size() == 1; }, 60s));
    b = got(engine_host::start(fw_options(*mock, dir / "b", "b")));
    id = fw_id_in(a->routing(), 0);
    REQUIRE(wait_until([&] { return settled(*a, *b, id); }, 60s));
  }
};

} // namespace

TEST_CASE("a node that does not lead an id forwards run, start, status, "
          "output, signal and cancel to its owner") {
  for (auto& r : fw_runs)
    r = 0;
  one_owner f;
  engine_host& owner = *f.a;
  engine_host& other = *f.b;
  const auto& id = f.id;
  CHECK(other.engine_for(id).error().code() == errc::conflict);

  auto out = other.try_run(fw_chain(), id);
  REQUIRE_MESSAGE(out, out.error().to_string());
  CHECK(*out == 6);
  CHECK(fw_runs[1] == 1);
  CHECK(fw_runs[2] == 1);
  CHECK(fw_runs[3] == 1);
  // Ran on the owner, once; a second run by the same id answers the
  // stored output.
  CHECK(got(owner.engine_for(id))->output<int>(id) == 6);
  CHECK(got(other.try_run(fw_chain(), id)) == 6);
  CHECK(fw_runs[1] == 1);
  CHECK(got(other.try_status(id)) == workflow_status::successful);
  CHECK(got(other.try_output<int>(id)) == 6);
  // A step's metadata through the non-owner is the owner's. (Times are
  // compared by presence: the owner answers from memory while the
  // workflow is live and from its log after, which may round them.)
  auto here = got(got(owner.engine_for(id))->try_metadata(id, "fw_add"));
  auto there = got(other.try_metadata(id, "fw_add"));
  CHECK(there.id == "fw_add");
  CHECK(there.state == step_state::succeeded);
  CHECK(there.options.step_name == "fw_add");
  CHECK(there.options.max_attempts == here.options.max_attempts);
  CHECK(there.options.retry_backoff == here.options.retry_backoff);
  CHECK(there.options.custom == here.options.custom);
  CHECK(there.user_metadata == here.user_metadata);
  CHECK(there.start.has_value());
  CHECK(there.end.has_value());
  CHECK(there.error_text.empty());
  REQUIRE(there.attempts.size() == 1);
  CHECK(there.attempts[0].attempt == 1);
  CHECK(there.attempts[0].end.has_value());
  CHECK(there.attempts[0].error_type.empty());
  CHECK(other.try_metadata(id, "no-such-step").error().code()
        == got(owner.engine_for(id))->try_metadata(id, "no-such-step")
             .error().code());
  CHECK(other.counters().forwarded >= 4);
  CHECK(owner.counters().served >= 4);
  auto text = other.metrics_text();
  CHECK(text.find("perdure_cluster_forwarded_total") != std::string::npos);

  // Unknown ids: the owner's not_found, through the forward.
  auto none = fw_id_in(owner.routing(), 0) + "x";
  while (owner.routing().partition_of(none) != 0)
    none += "x";
  auto st = other.try_status(none);
  REQUIRE_FALSE(st);
  CHECK(st.error().code() == errc::not_found);
  CHECK(other.try_output<int>(none).error().code() == errc::not_found);

  // A signal through the non-owner reaches the waiting workflow.
  auto sid = id + "-sig";
  while (owner.routing().partition_of(sid) != 0)
    sid += "x";
  auto eng = owner.engine_for(sid);
  REQUIRE(eng);
  auto h = (*eng)->run_async(fw_waits(), sid);
  REQUIRE(wait_until([&] {
    return status_is(other, sid, workflow_status::running);
  }, 60s));
  REQUIRE(other.try_signal(sid, "n", 5));
  CHECK(got(other.try_output<int>(sid)) == 105);

  // A start through the non-owner answers once the owner's store holds
  // the workflow (through the log), without waiting for its output.
  auto aid = id + "-start";
  while (owner.routing().partition_of(aid) != 0)
    aid += "x";
  REQUIRE(other.try_start(fw_waits(), aid));
  auto store = owner.cluster_node().store(0);
  REQUIRE(store);
  CHECK(store->info(aid));
  CHECK(got(other.try_status(aid)) == workflow_status::running);
  CHECK(other.try_start(fw_waits(), aid)); // live: left as it is
  REQUIRE(other.try_signal(aid, "n", 7));
  CHECK(got(other.try_output<int>(aid)) == 107);
  CHECK(other.try_start(fw_waits(), aid)); // finished: nothing runs again
  CHECK(got(other.try_output<int>(aid)) == 107);
  CHECK(other.try_start(fw_waits(), "").code()
        == errc::invalid_argument);

  // A cancel through the non-owner.
  auto cid = id + "-cancel";
  while (owner.routing().partition_of(cid) != 0)
    cid += "x";
  auto hc = (*eng)->run_async(fw_waits(), cid);
  REQUIRE(wait_until([&] {
    return status_is(other, cid, workflow_status::running);
  }, 60s));
  REQUIRE(other.try_cancel(cid));
  REQUIRE(wait_until([&] {
    return status_is(other, cid, workflow_status::canceled);
  }, 60s));

  // A host without a door forwards nothing: the owner's name, conflict.
  auto co = fw_options(*f.mock, f.dir / "c", "c");
  co.serve_address.clear();
  auto c = engine_host::start(std::move(co));
  REQUIRE_MESSAGE(c, c.error().to_string());
  CHECK_FALSE((*c)->door_port());
  REQUIRE(wait_until([&] {
    auto r = (*c)->engine_for(id);
    return !r && r.error().code() == errc::conflict;
  }, 60s));
  auto refused = (*c)->try_status(id);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == errc::conflict);
  CHECK(refused.error().message().find("no door") != std::string::npos);
  (*c)->stop();
  other.stop();
  owner.stop();
}

TEST_CASE("signals and promise settlements through any node are keyed: "
          "sent again with one key, they take effect once") {
  one_owner f;
  engine_host& owner = *f.a;
  engine_host& other = *f.b;
  const auto& id = f.id;
  auto eng = got(owner.engine_for(id));

  // Two waits of one name take two signals in send order: a duplicate of
  // the first would make the output 1 + 1.
  auto sid = id + "-two";
  auto hs = eng->run_async(fw_two_signals(), sid);
  REQUIRE(wait_until([&] {
    return status_is(other, sid, workflow_status::running);
  }, 60s));
  REQUIRE(other.try_signal(sid, "n", 1, "order-7:first"));
  REQUIRE(other.try_signal(sid, "n", 1, "order-7:first")); // forwarded
  REQUIRE(owner.try_signal(sid, "n", 1, "order-7:first")); // local
  CHECK(got(other.try_status(sid)) == workflow_status::running);
  REQUIRE(other.try_signal(sid, "n", 2)); // a key of its own
  CHECK(got(other.try_output<int>(sid)) == 3);
  CHECK(other.try_signal(sid, "n", 1, std::string(201, 'k')).code()
        == errc::invalid_argument);
  // The key is found by its mark, set in the signal's batch.
  auto log = eng->event_log();
  auto mark = records::signal_sender_key(got(log->info(sid)).created, sid,
                                         "key:order-7:first");
  REQUIRE(mark);
  CHECK(got(log->offset(*mark)) == std::optional<std::int64_t>{1});
  CHECK_FALSE(got(log->offset(*records::signal_sender_key(
    got(log->info(sid)).created, sid, "key:order-7:other"))));

  // A key too long for a mark (with a long id) is found by a scan.
  auto lid = id + "-" + std::string(180, 'l');
  REQUIRE(lid.size() < 256);
  auto long_key = std::string(200, 'k');
  auto hl = eng->run_async(fw_two_signals(), lid);
  REQUIRE(wait_until([&] { return log->info(lid).has_value(); }, 60s));
  CHECK_FALSE(records::signal_sender_key(got(log->info(lid)).created, lid,
                                         "key:" + long_key));
  REQUIRE(other.try_signal(lid, "n", 1, long_key));
  REQUIRE(other.try_signal(lid, "n", 1, long_key));
  CHECK(got(other.try_status(lid)) == workflow_status::running);
  // A signal no wait takes is stored, and so is its mark.
  REQUIRE(other.try_signal(lid, "unused", 7, "stored-one"));
  auto stored = records::signal_sender_key(got(log->info(lid)).created, lid,
                                           "key:stored-one");
  REQUIRE(stored);
  CHECK(got(log->offset(*stored)) == std::optional<std::int64_t>{1});
  REQUIRE(other.try_signal(lid, "n", 5, "short"));
  CHECK(got(other.try_output<int>(lid)) == 6);

  // A promise completed through the non-owner; again by the same key: ok,
  // by another: conflict (settled once).
  auto pid = id + "-promise";
  auto hp = eng->run_async(fw_promised(), pid);
  auto token = promise_id(pid, "ok");
  REQUIRE(other.try_complete(token, 5, "cb-1"));
  REQUIRE(other.try_complete(token, 5, "cb-1"));
  auto twice = other.try_complete(token, 6, "cb-2");
  CHECK(twice.code() == errc::conflict);
  CHECK(got(other.try_output<int>(pid)) == 105);
  CHECK(other.try_complete(token, 5, "cb-1")); // also once it ended

  // A rejection fails the wait; bad ids fail with the owner's errors.
  auto rid = id + "-reject";
  auto hr = eng->run_async(fw_promised(), rid);
  REQUIRE(other.try_reject(promise_id(rid, "ok"), "card declined"));
  REQUIRE(wait_until([&] {
    return status_is(other, rid, workflow_status::failed);
  }, 60s));
  CHECK(other.try_complete("no-at-sign", 1).code()
        == errc::invalid_argument);
  CHECK(other.try_complete(promise_id(id + "-none", "ok"), 1).code()
        == errc::not_found);
  other.stop();
  owner.stop();
}

TEST_CASE("a run forwarded while its owner stops completes on the next "
          "owner, its logged steps once") {
  for (auto& r : fw_runs)
    r = 0;
  auto mock = start_mock("fwd", 1);
  temp_dir dir;
  auto a = engine_host::start(fw_options(*mock, dir / "a", "a"));
  REQUIRE_MESSAGE(a, a.error().to_string());
  REQUIRE(wait_until([&] { return (*a)->running().size() == 1; }, 60s));
  auto bo = fw_options(*mock, dir / "b", "b");
  auto b = engine_host::start(std::move(bo));
  REQUIRE_MESSAGE(b, b.error().to_string());
  engine_host& owner = **a;
  engine_host& other = **b;
  auto id = fw_id_in(owner.routing(), 0);
  REQUIRE(wait_until([&] { return settled(owner, other, id); }, 60s));

  fw_gate.set(true);
  result<int> out = unexpected{errc::timeout, "not done"};
  std::thread caller{[&] { out = other.try_run(fw_chain(), id); }};
  REQUIRE(wait_until([] { return fw_runs[2] == 1; }, 60s));
  owner.stop(); // a clean handover while the forwarded run waits
  fw_gate.set(false);
  caller.join();
  REQUIRE_MESSAGE(out, out.error().to_string());
  CHECK(*out == 6);
  CHECK(fw_runs[1] == 1); // logged before the handover: not again
  CHECK(fw_runs[2] == 2); // abandoned by the first owner, run again
  CHECK(fw_runs[3] == 1);
  CHECK(other.counters().forward_retries >= 1);
  other.stop();
}

TEST_CASE("list, remove and resume through any node reach every "
          "partition's owner") {
  auto mock = start_mock("fwd", 2);
  temp_dir dir;
  auto a = engine_host::start(fw_options(*mock, dir / "a", "a"));
  REQUIRE_MESSAGE(a, a.error().to_string());
  auto b = engine_host::start(fw_options(*mock, dir / "b", "b"));
  REQUIRE_MESSAGE(b, b.error().to_string());
  engine_host* hosts[] = {a->get(), b->get()};
  // One partition each, and each knows the other's door.
  auto doors_known = [&] {
    for (auto* h : hosts)
      for (auto& part : h->cluster_node().partitions())
        if (part.owner_endpoint.empty())
          return false;
    return true;
  };
  REQUIRE(wait_until([&] {
    return (*a)->running().size() == 1 && (*b)->running().size() == 1
           && doors_known();
  }, 60s));
  const auto& map = (*a)->routing();
  // Two finished and one waiting workflow in each partition, started
  // through host a (so half of them forwarded).
  std::vector<std::string> done, waiting;
  for (partition_id p = 0; p < 2; ++p)
    for (int k = 0; k < 3; ++k) {
      auto id = fw_id_in(map, p) + "-l" + std::to_string(k);
      while (map.partition_of(id) != p)
        id += "x";
      REQUIRE((*a)->try_start(fw_waits(), id));
      if (k < 2) {
        REQUIRE((*a)->try_signal(id, "n", k));
        CHECK(got((*a)->try_output<int>(id)) == 100 + k);
        done.push_back(id);
      } else {
        waiting.push_back(id);
      }
    }
  for (auto* h : hosts) {
    auto all = got(h->try_list());
    REQUIRE(all.size() == 6);
    CHECK(std::is_sorted(all.begin(), all.end(),
                         [](auto& x, auto& y) { return x.id < y.id; }));
    auto running = got(h->try_list({workflow_status::running}));
    REQUIRE(running.size() == 2);
    for (auto& e : running)
      CHECK(std::find(waiting.begin(), waiting.end(), e.id)
            != waiting.end());
    CHECK(got(h->try_list({workflow_status::successful})).size() == 4);
    // Metadata of a finished and a waiting workflow, wherever they live.
    auto md = got(h->try_metadata(done[1]));
    CHECK(md.id == done[1]);
    CHECK(md.status == workflow_status::successful);
    CHECK(md.steps_succeeded == md.steps);
    CHECK(md.steps >= 2);
    CHECK(md.end.has_value());
    auto mw = got(h->try_metadata(waiting[1]));
    CHECK(mw.status == workflow_status::running);
    CHECK_FALSE(mw.end.has_value());
    CHECK(h->try_metadata("nobody-here").error().code() == errc::not_found);
  }
  // Remove: a finished workflow goes, wherever it lives; a live one is
  // conflict (not retried as busy), unknown is not_found.
  for (auto& id : done) {
    auto* other = (*a)->engine_of(map.partition_of(id)) ? hosts[1] : hosts[0];
    REQUIRE(other->try_remove(id));
    CHECK(other->try_status(id).error().code() == errc::not_found);
  }
  CHECK(got((*b)->try_list()).size() == 2);
  for (auto& id : waiting) {
    auto st = (*b)->try_remove(id);
    CHECK(st.code() == errc::conflict);
    CHECK((*a)->try_resume(id).code() == errc::conflict);
  }
  CHECK((*a)->try_remove(done[0]).code() == errc::not_found);
  // Resume of a canceled workflow: the owner's answer.
  REQUIRE((*b)->try_cancel(waiting[0]));
  REQUIRE(wait_until([&] {
    return status_is(**a, waiting[0], workflow_status::canceled);
  }, 60s));
  CHECK((*a)->try_resume(waiting[0]).code() == errc::canceled);
  CHECK(got((*a)->try_list({workflow_status::canceled})).size() == 1);
  (*b)->stop();
  (*a)->stop();
}
