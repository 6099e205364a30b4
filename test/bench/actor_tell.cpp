// SPDX-License-Identifier: Apache-2.0
// actor-tell: a method that hands work to another actor, by a call (the
// method waits for the other's commit, then commits itself: two commits
// on the caller's path) against a tell (logged with the method's own
// commit, sent from the outbox afterwards). Sequential calls from one
// thread, same engine, same run: the caller's p50/p99 for each, and for
// tell the time until the receiver applied every message.

#include "bench.hpp"
#include "engine_opts.hpp"

#include <perdure/perdure.hpp>
#include <string>
#include <thread>
#include <vector>

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

/// Tells 8 messages per call, spread over `ways` sinks PREFIX-0 .. (an
/// order notifying the services that act on it).
struct fan_source {
  long calls = 0;
  long spread(std::string prefix, long ways, long n) {
    for (long k = 0; k < fan_messages; ++k) {
      auto st = this_step::engine()
                    .actor<tell_sink>(prefix + std::to_string(k % ways))
                    .tell(&tell_sink::add, n);
      if (!st)
        throw_error(st);
    }
    return ++calls;
  }
  static constexpr long fan_messages = 8;
};
PERDURE_ACTOR(fan_source, (calls), (spread))

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
  engine eng{engine_opts(o, "actor-tell")};
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

// Sequential calls of fan_source::spread for `seconds`, then until every
// message was applied: the caller's latency and the delivery rate.
void fan_round(engine& eng, const bench_options& o, const std::string& name,
               long ways, figures& f, bool& ok) {
  auto src = eng.actor<fan_source>("fan-src-" + name);
  auto prefix = "fan-" + name + "-";
  std::vector<actor_ref<tell_sink>> sinks;
  for (long k = 0; k < ways; ++k)
    sinks.push_back(eng.actor<tell_sink>(prefix + std::to_string(k)));
  latencies lat;
  long calls = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < o.seconds) {
    auto s = std::chrono::steady_clock::now();
    src.call(&fan_source::spread, prefix, ways, calls);
    lat.add(std::chrono::steady_clock::now() - s);
    ++calls;
  }
  double told_s = seconds_since(t0);
  long want = calls * fan_source::fan_messages;
  auto applied = [&] {
    long n = 0;
    for (auto& s : sinks)
      n += s.call(&tell_sink::size);
    return n;
  };
  // Polled; the deadline only bounds a failing run (correct 0).
  auto limit = std::chrono::steady_clock::now() + std::chrono::minutes{5};
  while (applied() < want && std::chrono::steady_clock::now() < limit)
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  double applied_s = seconds_since(t0);
  f.add(name + "_call_p50_us", lat.quantile_us(0.5));
  f.add(name + "_messages_per_s", want / applied_s);
  f.add(name + "_drain_ms", (applied_s - told_s) * 1e3);
  ok = ok && applied() == want;
}

// actor-tell-fanout: a method telling 8 messages per call to 8 receivers,
// against the same 8 messages to one receiver (one lane: one at a time).
figures actor_tell_fanout(const bench_options& o) {
  engine eng{engine_opts(o, "actor-tell-fanout")};
  figures f;
  bool ok = true;
  fan_round(eng, o, "one", 1, f, ok);
  fan_round(eng, o, "eight", fan_source::fan_messages, f, ok);
  f.add("delivery_ratio_eight_over_one",
        f.get("eight_messages_per_s") / f.get("one_messages_per_s"));
  f.add("correct", ok ? 1 : 0);
  return f;
}

} // namespace

PERDURE_WORKLOAD("actor-tell-fanout",
                 "a method telling 8 actors per call (the outbox's lanes side "
                 "by side) vs 8 messages to one actor: delivery rate, drain",
                 actor_tell_fanout);

PERDURE_WORKLOAD("actor-tell",
                 "a method handing work to another actor: call vs tell "
                 "(outbox), caller p50/p99 and the receiver's catch-up",
                 actor_tell);

} // namespace perdure::bench
