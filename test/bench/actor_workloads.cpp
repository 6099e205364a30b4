// SPDX-License-Identifier: Apache-2.0
// Virtual-actor workloads of perdure-bench: actor-seq (sequential mutating
// calls on one actor), actor-readonly (readonly calls from 8 threads while a
// writer runs: their rate, and the p50/p99 latency of 1 call in 16),
// actor-activate (cold activation), actor-memory (resident bytes per idle
// actor after creating many and letting them passivate), actor-ledger (log
// bytes per call of a 10,000-entry ledger, state-logged vs event-sourced).

#include "bench.hpp"
#include "engine_opts.hpp"

#include <perdure/perdure.hpp>

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <malloc.h>
#include <thread>
#include <unistd.h>

namespace perdure::bench {

namespace {

struct bench_counter {
  long count = 0;
  long incr(long by) {
    count += by;
    return count;
  }
  long value() const {
    return count;
  }
};
PERDURE_ACTOR(bench_counter, (count), (incr, value))


double rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * ::sysconf(_SC_PAGESIZE);
}

figures actor_seq(const bench_options& o) {
  engine eng{engine_opts(o, "actor-seq")};
  auto c = eng.actor<bench_counter>("seq");
  for (int i = 0; i < 20; ++i) // warm up
    c.call(&bench_counter::incr, 1L);
  latencies lat;
  long calls = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < o.seconds) {
    auto s = std::chrono::steady_clock::now();
    c.call(&bench_counter::incr, 1L);
    lat.add(std::chrono::steady_clock::now() - s);
    ++calls;
  }
  double s = seconds_since(t0);
  figures f;
  f.add("calls", calls);
  f.add("calls_per_s", calls / s);
  f.add("p50_us", lat.quantile_us(0.5));
  f.add("p99_us", lat.quantile_us(0.99));
  f.add("p999_us", lat.quantile_us(0.999));
  // The tail's cause: each checkpoint syncs what LMDB wrote since the last.
  add_checkpoint_figures(f, eng.event_log()->stats(), s);
  f.add("correct", c.call(&bench_counter::value) == calls + 20 ? 1 : 0);
  return f;
}

figures actor_readonly(const bench_options& o) {
  constexpr int readers = 8;
  engine eng{engine_opts(o, "actor-readonly")};
  auto c = eng.actor<bench_counter>("ro");
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0}, writes{0}, regressions{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    while (!stop) {
      c.call(&bench_counter::incr, 1L);
      ++writes;
    }
  });
  // Each reader times every 16th call into its own samples (no shared state
  // on the read path), merged after the run: a read takes a few hundred ns,
  // and timing every one cost about a fifth of the rate (measured).
  constexpr long sample_every = 16;
  using clock = std::chrono::steady_clock;
  std::vector<latencies> lat(readers);
  auto t0 = clock::now();
  for (int r = 0; r < readers; ++r)
    threads.emplace_back([&, r, ref = c] {
      long n = 0, last = 0;
      auto& mine = lat[static_cast<std::size_t>(r)];
      while (!stop) {
        bool timed = n % sample_every == 0;
        auto s = timed ? clock::now() : clock::time_point{};
        long v = ref.call(&bench_counter::value);
        if (timed)
          mine.add(clock::now() - s);
        if (v < last) // committed values only grow
          ++regressions;
        last = v;
        ++n;
      }
      reads += n;
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& t : threads)
    t.join();
  double s = seconds_since(t0);
  latencies all;
  for (auto& l : lat)
    all.merge(l);
  figures f;
  f.add("readers", readers);
  f.add("reads_per_s", reads / s);
  f.add("writes_per_s", writes / s);
  f.add("read_p50_us", all.quantile_us(0.5));
  f.add("read_p99_us", all.quantile_us(0.99));
  f.add("read_samples", static_cast<double>(all.size()));
  f.add("regressions", regressions);
  if (o.mode == eventlog::durability::sync)
    fsync_floor(o, f); // the same-run baseline
  return f;
}

figures actor_activate(const bench_options& o) {
  constexpr int actors = 200;
  figures f;
  {
    engine eng{engine_opts(o, "actor-activate")};
    for (int i = 0; i < actors; ++i)
      eng.actor<bench_counter>("a" + std::to_string(i))
        .call(&bench_counter::incr, 1L);
  }
  // A new engine: every actor is cold (read from the log, spawned).
  engine eng{engine_opts(o, "actor-activate")};
  latencies lat;
  for (int i = 0; i < actors; ++i) {
    auto s = std::chrono::steady_clock::now();
    auto v = eng.get_actor<bench_counter>("a" + std::to_string(i))
               .call(&bench_counter::value);
    lat.add(std::chrono::steady_clock::now() - s);
    if (v != 1)
      f.add("wrong", i);
  }
  f.add("actors", actors);
  f.add("p50_us", lat.quantile_us(0.5));
  f.add("p99_us", lat.quantile_us(0.99));
  return f;
}

figures actor_memory(const bench_options& o) {
  long n = 1'000'000;
  if (auto env = std::getenv("PERDURE_BENCH_ACTORS"))
    n = std::atol(env);
  constexpr int creators = 32;
  auto opts = engine_opts(o, "actor-memory");
  opts.durability = eventlog::durability::process; // creation-bound
  engine eng{opts};
  (void) configure_actors(eng, {.idle_timeout = std::chrono::milliseconds{200}});
  ::malloc_trim(0);
  double before = rss_bytes();
  std::atomic<long> next{0};
  std::vector<std::thread> threads;
  auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < creators; ++t)
    threads.emplace_back([&] {
      for (long i; (i = next++) < n;)
        (void) eng.try_actor<bench_counter>("m" + std::to_string(i));
    });
  for (auto& t : threads)
    t.join();
  double create_s = seconds_since(t0);
  double peak = rss_bytes();
  while (active_actors(eng) > 0 && seconds_since(t0) < create_s + 30)
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  ::malloc_trim(0);
  double after = rss_bytes();
  figures f;
  f.add("actors", static_cast<double>(n));
  f.add("create_s", create_s);
  f.add("creates_per_s", n / create_s);
  f.add("active_after", static_cast<double>(active_actors(eng)));
  f.add("peak_rss_mb", peak / 1e6);
  f.add("rss_growth_mb", (after - before) / 1e6);
  f.add("bytes_per_idle_actor", (after - before) / n);
  // Activating one again works from the log.
  f.add("reactivated_ok", eng.get_actor<bench_counter>("m0").call(
                            &bench_counter::value) == 0 ? 1 : 0);
  return f;
}

// -- actor-ledger ---------------------------------------------------------

struct ledger_entry {
  std::int64_t amount = 0;
  std::int64_t balance = 0;
};
PERDURE_FIELDS(ledger_entry, amount, balance)

constexpr int ledger_size = 10'000;

/// The whole ledger is logged with every call.
struct logged_ledger {
  std::vector<ledger_entry> entries;
  std::int64_t balance = 0;
  logged_ledger() = default;
  explicit logged_ledger(int n) {
    for (int i = 0; i < n; ++i)
      post(1);
  }
  std::int64_t post(std::int64_t amount) {
    balance += amount;
    entries.push_back({amount, balance});
    return balance;
  }
};
PERDURE_ACTOR(logged_ledger, (entries, balance), (post))

struct posted {
  std::int64_t amount = 0;
};
PERDURE_EVENT(posted, amount)

/// Only the event is logged with a call.
struct sourced_ledger : event_sourced<sourced_ledger, posted> {
  std::vector<ledger_entry> entries;
  std::int64_t balance = 0;
  sourced_ledger() = default;
  explicit sourced_ledger(int n) {
    for (int i = 0; i < n; ++i)
      apply(posted{1});
  }
  void apply(const posted& e) {
    balance += e.amount;
    entries.push_back({e.amount, balance});
  }
  std::int64_t post(std::int64_t amount) {
    emit(posted{amount});
    return balance;
  }
};
PERDURE_ACTOR(sourced_ledger, (entries, balance), (post))

// Posts to actor `id` of class L (created with ledger_size entries) for
// o.seconds and at least `min_calls` calls; adds <prefix>_calls,
// _calls_per_s, _p50_us, _bytes_per_call (the payload bytes of every record
// the calls added to the actor's stream, snapshots included),
// _call_record_bytes (without the snapshots) and _snapshots.
template <class L>
bool ledger_run(engine& eng, const bench_options& o, const std::string& id,
                long min_calls, const std::string& prefix, figures& f) {
  auto a = eng.actor<L>(id, ledger_size);
  auto log = eng.event_log();
  auto stream = "actor/" + id;
  auto before = log->info(stream);
  if (!before)
    return false;
  latencies lat;
  long calls = 0;
  std::int64_t last = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (calls < min_calls || seconds_since(t0) < o.seconds) {
    auto s = std::chrono::steady_clock::now();
    last = a.call(&L::post, std::int64_t{2});
    lat.add(std::chrono::steady_clock::now() - s);
    ++calls;
  }
  double secs = seconds_since(t0);
  // An event-sourced snapshot due after the very last call may land after
  // the scan: at most one of them is missed.
  double bytes = 0, snapshots = 0, snapshot_bytes = 0;
  auto st = log->scan(stream, before->last_seq + 1,
                      [&](const eventlog::record_view& r) {
    auto n = static_cast<double>(r.payload.size());
    bytes += n;
    if (r.kind == eventlog::to_u16(eventlog::record_kind::actor_snapshot)) {
      ++snapshots;
      snapshot_bytes += n;
    }
    return true;
  });
  f.add(prefix + "_calls", calls);
  f.add(prefix + "_calls_per_s", calls / secs);
  f.add(prefix + "_p50_us", lat.quantile_us(0.5));
  f.add(prefix + "_bytes_per_call", bytes / calls);
  f.add(prefix + "_call_record_bytes", (bytes - snapshot_bytes) / calls);
  f.add(prefix + "_snapshots", snapshots);
  return st.is_ok() && last == ledger_size + 2 * calls;
}

figures actor_ledger(const bench_options& o) {
  engine eng{engine_opts(o, "actor-ledger")};
  actor_options ao;
  figures f;
  // Enough event-sourced calls for its snapshots to count (amortized).
  bool ok = ledger_run<logged_ledger>(eng, o, "logged", 1, "logged", f)
            && ledger_run<sourced_ledger>(eng, o, "sourced",
                                          3L * ao.events_per_snapshot + 500,
                                          "sourced", f);
  f.add("bytes_ratio",
        f.get("logged_bytes_per_call") / f.get("sourced_bytes_per_call"));
  // Each event is also copied to its class's feed (projections read it).
  double feed = 0;
  (void) eng.event_log()->scan("actor-feed/sourced_ledger", 1,
                               [&](const eventlog::record_view& r) {
    feed += static_cast<double>(r.payload.size());
    return true;
  });
  f.add("sourced_feed_bytes_per_call", feed / f.get("sourced_calls"));
  f.add("bytes_ratio_with_feed",
        f.get("logged_bytes_per_call")
          / (f.get("sourced_bytes_per_call")
             + f.get("sourced_feed_bytes_per_call")));
  f.add("calls_ratio",
        f.get("sourced_calls_per_s") / f.get("logged_calls_per_s"));
  f.add("correct", ok ? 1 : 0);
  return f;
}

} // namespace

PERDURE_WORKLOAD("actor-seq", "sequential mutating calls on one actor",
                 actor_seq);
PERDURE_WORKLOAD("actor-readonly",
                 "readonly calls from 8 threads while one writer runs: "
                 "rate, p50/p99",
                 actor_readonly);
PERDURE_WORKLOAD("actor-ledger",
                 "a 10,000-entry ledger: log bytes per call and calls/s, "
                 "state-logged vs event-sourced",
                 actor_ledger);
PERDURE_WORKLOAD("actor-activate", "activation of a cold actor",
                 actor_activate);
PERDURE_WORKLOAD("actor-memory",
                 "resident bytes per idle (passivated) actor, 1,000,000 "
                 "actors (PERDURE_BENCH_ACTORS to change)",
                 actor_memory);

} // namespace perdure::bench
