// SPDX-License-Identifier: Apache-2.0
// cluster-actor-remote: an actor method that calls another actor, called
// one call after another on a cluster of two engine_hosts in this process
// (the 3-broker in-process mock, 2 partitions, one led by each, doors on
// loopback): the callee in the caller's partition, then in the other
// node's partition (docs/cluster.md "Calls to actors of another
// partition": the call goes through the caller's host to the callee's
// owner's door), and a method that tells the other node's actor instead
// (actor_ref::tell: logged with the method's commit, sent from its
// outbox afterwards). Same-run baselines: one plain call of the callee,
// and the local relay.

#include "bench.hpp"
#include "cluster_bench_host.hpp"
#include "partition_ids.hpp"
#include "perdure/cluster/actor_calls.hpp"
#include "perdure/listeners/kafka.hpp"

namespace perdure::bench {

namespace {

using test::id_in;
using test::knows;

constexpr int calls = 200;

struct ba_room {
  long n = 0;
  long add(long by) {
    return n += by;
  }
  long get() const {
    return n;
  }
};
PERDURE_ACTOR(ba_room, (n), (add, get))

struct ba_caller {
  long seen = 0;
  /// add(by) on room actor `room`, wherever it lives.
  long relay(std::string room, long by) {
    seen = this_step::engine().actor<ba_room>(room).call(&ba_room::add, by);
    return seen;
  }
  /// Tells room actor `room` add(by): does not wait for it.
  long pass(std::string room, long by) {
    auto st = this_step::engine().actor<ba_room>(room).tell(&ba_room::add, by);
    if (!st)
      throw_error(st);
    return ++seen;
  }
};
PERDURE_ACTOR(ba_caller, (seen), (relay, pass))

std::unique_ptr<cluster::engine_host> host_on(const std::string& bootstrap,
                                              const std::filesystem::path& dir,
                                              const std::string& id) {
  auto ho = in_process_host(bootstrap, dir, "bench-arem");
  ho.node.node_id = id;
  ho.serve_address = "127.0.0.1:0";
  ho.actor_calls = cluster::served_actors<ba_room, ba_caller>();
  auto h = cluster::engine_host::start(std::move(ho));
  ok_or_throw(h ? status{} : h.error());
  return std::move(*h);
}

} // namespace

figures cluster_actor_remote(const bench_options& o) {
  kafka_mock_cluster mock{3};
  ok_or_throw(mock.create_topic(cluster::kafka_log_topic("bench-arem"), 2, 3));
  auto a = host_on(mock.bootstrap(), o.dir / "a", "bench-a");
  auto b = host_on(mock.bootstrap(), o.dir / "b", "bench-b");
  wait_for(
      [&] {
        auto ra = a->running(), rb = b->running();
        return ra.size() == 1 && rb.size() == 1 && ra[0] != rb[0];
      },
      "cluster-actor-remote: the nodes did not lead one partition each");
  auto pa = a->running().at(0), pb = b->running().at(0);
  wait_for([&] { return knows(*a, *b, pb) && knows(*b, *a, pa); },
           "cluster-actor-remote: the nodes did not learn each other's door");
  const auto& map = a->routing();
  auto eng = a->engine_of(pa);
  auto near = id_in(map, pa, "room-"), far = id_in(map, pb, "room-");
  auto caller_near = eng->actor<ba_caller>(id_in(map, pa, "near-"));
  auto caller_far = eng->actor<ba_caller>(id_in(map, pa, "far-"));
  auto teller = eng->actor<ba_caller>(id_in(map, pa, "teller-"));
  auto told = id_in(map, pb, "room-", 1);
  auto room = eng->actor<ba_room>(near);
  long last_near = 0, last_far = 0;
  // Seconds per call of `call(k)`, k = 0.. n-1.
  auto timed = [](int n, auto&& call) {
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < n; ++k)
      call(k);
    return seconds_since(t0) / n;
  };
  auto plain = [&](int) { last_near = room.call(&ba_room::add, 1L); };
  auto local = [&](int) {
    last_near = caller_near.call(&ba_caller::relay, near, 1L);
  };
  auto remote = [&](int) {
    last_far = caller_far.call(&ba_caller::relay, far, 1L);
  };
  auto tell = [&](int) { teller.call(&ba_caller::pass, told, 1L); };
  timed(3, local); // the engines' first groups, the door's connection
  timed(3, remote);
  timed(3, tell);
  figures f;
  auto cpu0 = process_cpu_s();
  double p = timed(calls, plain);
  auto cpu1 = process_cpu_s();
  double l = timed(calls, local);
  auto cpu2 = process_cpu_s();
  double r = timed(calls, remote);
  auto cpu3 = process_cpu_s();
  auto t_tell = std::chrono::steady_clock::now();
  double t = timed(calls, tell);
  double told_s = seconds_since(t_tell);
  auto told_room = eng->actor<ba_room>(told);
  wait_for([&] { return told_room.call(&ba_room::get) == calls + 3; },
           "cluster-actor-remote: the told messages were not all applied");
  double drained_s = seconds_since(t_tell);
  auto cpu4 = process_cpu_s();
  f.add("calls", calls);
  f.add("plain_call_ms", p * 1e3);
  f.add("relay_local_ms", l * 1e3);
  f.add("relay_remote_ms", r * 1e3);
  f.add("ratio_remote_to_local", r / l);
  f.add("tell_remote_ms", t * 1e3);
  f.add("tell_drain_ms", (drained_s - told_s) * 1e3);
  f.add("ratio_tell_to_relay_remote", t / r);
  f.add("tell_cpu_us_per_message", (cpu4 - cpu3) * 1e6 / calls);
  f.add("plain_cpu_us_per_call", (cpu1 - cpu0) * 1e6 / calls);
  f.add("local_cpu_us_per_call", (cpu2 - cpu1) * 1e6 / calls);
  f.add("remote_cpu_us_per_call", (cpu3 - cpu2) * 1e6 / calls);
  // Every call applied once: the rooms hold what was added.
  bool right = last_near == 2 * calls + 3 && last_far == calls + 3;
  f.add("correct", right ? 1 : 0);
  b->stop();
  a->stop();
  return f;
}

PERDURE_WORKLOAD("cluster-actor-remote",
                 "an actor method calling another actor on two engine_hosts "
                 "(2 partitions, 3-broker mock): the callee in the caller's "
                 "partition vs on the other node",
                 cluster_actor_remote);

} // namespace perdure::bench
