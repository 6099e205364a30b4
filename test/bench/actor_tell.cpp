// SPDX-License-Identifier: Apache-2.0
// actor-tell: a method that hands work to another actor, by a call (the
// method waits for the other's commit, then commits itself: two commits
// on the caller's path) against a tell (logged with the method's own
// commit, sent from the outbox afterwards). Sequential calls from one
// thread, same engine, same run: the caller's p50/p99 for each, and for
// tell the time until the receiver applied every message.

#include "bench.hpp"

#include <perdure/perdure.hpp>
#include <thread>

namespace perdure::bench {

namespace {

struct tell_sink {
  long sum = 0;
  long count = 0;
  long add(long n) {
    sum += n;
    return ++count;
  }
  long size() const {
    return count;
  }
};
PERDURE_ACTOR(tell_sink, (sum, count), (add, size))

struct tell_source {
  long handed = 0;
  long by_call(long n) {
    this_step::engine().actor<tell_sink>("sink-call").call(&tell_sink::add, n);
    return ++handed;
  }
  long by_tell(long n) {
    auto st = this_step::engine()
                  .actor<tell_sink>("sink-tell")
                  .tell(&tell_sink::add, n);
    if (!st)
      throw_error(st);
    return ++handed;
  }
};
PERDURE_ACTOR(tell_source, (handed), (by_call, by_tell))

template <class M>
std::pair<long, latencies> drive(const actor_ref<tell_source>& src, M m,
                                 double seconds) {
  latencies lat;
  long n = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < seconds) {
    auto s = std::chrono::steady_clock::now();
    src.call(m, n);
    lat.add(std::chrono::steady_clock::now() - s);
    ++n;
  }
  return {n, std::move(lat)};
}

figures actor_tell(const bench_options& o) {
  engine eng{{.storage = o.dir / "actor-tell",
              .durability = o.mode,
              .sync = o.sync,
              .writeback_interval = o.writeback}};
  auto call_src = eng.actor<tell_source>("src-call");
  auto tell_src = eng.actor<tell_source>("src-tell");
  auto call_sink = eng.actor<tell_sink>("sink-call");
  auto tell_sink_ref = eng.actor<tell_sink>("sink-tell");
  figures f;

  auto [calls, call_lat] = drive(call_src, &tell_source::by_call, o.seconds);
  f.add("call_p50_us", call_lat.quantile_us(0.5));
  f.add("call_p99_us", call_lat.quantile_us(0.99));
  f.add("call_per_s", calls / o.seconds);

  auto t0 = std::chrono::steady_clock::now();
  auto [tells, tell_lat] = drive(tell_src, &tell_source::by_tell, o.seconds);
  double told_s = seconds_since(t0);
  // The receiver catches up: every message applied, once (polled; the
  // deadline only bounds a failing run, which then reports correct 0).
  auto limit = std::chrono::steady_clock::now() + std::chrono::minutes{5};
  while (tell_sink_ref.call(&tell_sink::size) < tells &&
         std::chrono::steady_clock::now() < limit)
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  double applied_s = seconds_since(t0);
  f.add("tell_p50_us", tell_lat.quantile_us(0.5));
  f.add("tell_p99_us", tell_lat.quantile_us(0.99));
  f.add("tell_per_s", tells / told_s);
  f.add("tell_applied_per_s", tells / applied_s);
  f.add("tell_drain_ms", (applied_s - told_s) * 1e3);
  f.add("p50_ratio_call_over_tell",
        f.get("call_p50_us") / f.get("tell_p50_us"));
  bool ok = call_sink.call(&tell_sink::size) == calls &&
            tell_sink_ref.call(&tell_sink::size) == tells &&
            tell_src.call(&tell_source::by_tell, -1L) == tells + 1;
  f.add("correct", ok ? 1 : 0);
  return f;
}

} // namespace

PERDURE_WORKLOAD("actor-tell",
                 "a method handing work to another actor: call vs tell "
                 "(outbox), caller p50/p99 and the receiver's catch-up",
                 actor_tell);

} // namespace perdure::bench
