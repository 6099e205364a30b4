// SPDX-License-Identifier: Apache-2.0
// projection-catchup: a projection over a feed of many events (1,000,000;
// PERDURE_BENCH_EVENTS to change) catching up from the first one, in both
// modes, against a same-run baseline (a bare scan decoding each feed
// record). The feed is written straight through the event log with the
// records actors write (records/projection.hpp), so the figure is the
// projection's, not the actors'.

#include "bench.hpp"
#include "engine_opts.hpp"

#include <perdure/perdure.hpp>

#include "perdure/actors/event_sourced.hpp"
#include "perdure/actors/projection.hpp"
#include "perdure/eventlog/change_feed.hpp"
#include "perdure/eventlog/records/projection.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <cstdlib>
#include <thread>

namespace perdure::bench {

namespace {

struct booked {
  std::int64_t amount = 0;
};
PERDURE_EVENT(booked, amount)

struct bench_account : event_sourced<bench_account, booked> {
  std::int64_t balance = 0;
  void apply(const booked& e) {
    balance += e.amount;
  }
  std::int64_t book(std::int64_t n) {
    emit(booked{n});
    return balance;
  }
};
PERDURE_ACTOR(bench_account, (balance), (book))

constexpr int accounts = 1000;

bool write_feed(eventlog::event_log& log, long n) {
  namespace pr = projection_records;
  auto feed = pr::feed_stream("bench_account");
  auto sig = codec::type_signature<booked>();
  for (long i = 0; i < n;) {
    eventlog::write_batch b;
    for (long k = 0; k < 10'000 && i < n; ++k, ++i)
      b.append(feed, pr::actor_feed_kind,
               codec::encode(pr::feed_event{
                 "acc" + std::to_string(i % accounts),
                 static_cast<std::uint64_t>(i / accounts + 2), "booked", sig,
                 {codec::encode(booked{1})}}));
    if (!log.commit(std::move(b)))
      return false;
  }
  return true;
}

// Runs projection `name` (over workflows when `wf`) until it handled `n`
// feed positions; its positions/s.
template <class H>
double catch_up(engine& eng, const std::string& name, H handler, long n,
                bool wf = false) {
  auto t0 = std::chrono::steady_clock::now();
  auto p = wf ? project_workflows(eng, name, std::move(handler))
              : project<bench_account>(eng, name, std::move(handler));
  while (p.position() < static_cast<std::uint64_t>(n) && p.error())
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  double secs = seconds_since(t0);
  p.stop();
  return p.error() ? n / secs : 0;
}

figures projection_catchup(const bench_options& o) {
  long n = 1'000'000;
  if (auto env = std::getenv("PERDURE_BENCH_EVENTS"))
    n = std::atol(env);
  engine eng{engine_opts(o, "projection-catchup")};
  figures f;
  auto& log = *eng.event_log();
  auto t0 = std::chrono::steady_clock::now();
  bool ok = write_feed(log, n);
  f.add("events", static_cast<double>(n));
  f.add("write_s", seconds_since(t0));
  // baseline: one scan decoding every feed record
  t0 = std::chrono::steady_clock::now();
  long scanned = 0;
  (void) log.scan(projection_records::feed_stream("bench_account"), 1,
                  [&](const eventlog::record_view& r) {
    auto e = codec::decode<projection_records::feed_event>(r.payload);
    scanned += e ? 1 : 0;
    return true;
  });
  f.add("scan_events_per_s", scanned / seconds_since(t0));
  std::atomic<long> seen{0};
  f.add("least_events_per_s",
        catch_up(eng, "least", [&](const projected_event& e) {
          if (e.as<booked>())
            seen.fetch_add(1, std::memory_order_relaxed);
        }, n));
  f.add("exactly_events_per_s",
        catch_up(eng, "exactly",
                 [](const projected_event& e, projection_rows& rows) {
                   auto b = e.as<booked>();
                   rows.put_as(e.actor,
                               rows.get_as<std::int64_t>(e.actor).value_or(0)
                                 + b->amount);
                 }, n));
  auto rows = projection_table(eng, "exactly");
  std::int64_t total = 0;
  if (rows)
    for (auto& [k, v] : *rows)
      total += codec::decode<std::int64_t>(v).value_or(0);
  ok = ok && scanned == n && seen == n && total == n;
  f.add("correct", ok ? 1 : 0);
  return f;
}

// Step outputs of 1,000 workflows written straight through the log of an
// engine with the workflow feed on, so each gets its note.
bool write_workflow_records(eventlog::event_log& log, long n) {
  for (long i = 0; i < n;) {
    eventlog::write_batch b;
    for (long k = 0; k < 10'000 && i < n; ++k, ++i) {
      auto id = "wf" + std::to_string(i % accounts);
      if (i < accounts)
        b.create(id, eventlog::stream_kind::workflow);
      records::step_succeeded r;
      r.node = static_cast<std::uint32_t>(i / accounts);
      r.id = "s";
      r.output.data = codec::encode(1);
      b.append(id, eventlog::to_u16(eventlog::record_kind::step_succeeded),
               codec::encode(r));
    }
    if (!log.commit(std::move(b)))
      return false;
  }
  return true;
}

// projection-catchup-wf: the same over the workflow feed, where each
// position is a note and the record is read where it is.
figures projection_catchup_wf(const bench_options& o) {
  long n = 1'000'000;
  if (auto env = std::getenv("PERDURE_BENCH_EVENTS"))
    n = std::atol(env);
  auto opts = engine_opts(o, "projection-catchup-wf");
  opts.workflow_feed = true;
  engine eng{std::move(opts)};
  figures f;
  auto& log = *eng.event_log();
  auto t0 = std::chrono::steady_clock::now();
  bool ok = write_workflow_records(log, n);
  f.add("records", static_cast<double>(n));
  f.add("write_s", seconds_since(t0));
  t0 = std::chrono::steady_clock::now();
  long scanned = 0;
  (void) log.scan(records::workflow_feed_stream, 1,
                  [&](const eventlog::record_view& r) {
    scanned += eventlog::decode_change_note(r.payload) ? 1 : 0;
    return true;
  });
  f.add("scan_notes_per_s", scanned / seconds_since(t0));
  std::atomic<long> seen{0};
  f.add("least_records_per_s",
        catch_up(eng, "least", [&](const projected_event& e) {
          if (e.output_as<int>())
            seen.fetch_add(1, std::memory_order_relaxed);
        }, n, true));
  f.add("exactly_records_per_s",
        catch_up(eng, "exactly",
                 [](const projected_event& e, projection_rows& rows) {
                   rows.put_as(e.workflow,
                               rows.get_as<int>(e.workflow).value_or(0)
                                 + e.output_as<int>().value_or(0));
                 }, n, true));
  auto rows = projection_table(eng, "exactly");
  long total = 0;
  if (rows)
    for (auto& [k, v] : *rows)
      total += codec::decode<int>(v).value_or(0);
  ok = ok && scanned == n && seen == n && total == n;
  f.add("correct", ok ? 1 : 0);
  return f;
}

} // namespace

PERDURE_WORKLOAD("projection-catchup-wf",
                 "a projection over workflow records catching up over "
                 "1,000,000 step outputs, both modes, vs a bare scan of "
                 "the feed's notes (PERDURE_BENCH_EVENTS to change)",
                 projection_catchup_wf);
PERDURE_WORKLOAD("projection-catchup",
                 "a projection catching up over 1,000,000 events, "
                 "at-least-once and exactly-once, vs a bare scan "
                 "(PERDURE_BENCH_EVENTS to change)",
                 projection_catchup);

} // namespace perdure::bench
