// SPDX-License-Identifier: Apache-2.0
// cluster-signal-keyed: keyed signals (engine_host::try_signal with a key,
// as every Kafka record a cluster feed turns into a signal) sent one after
// another to one workflow that keeps them all (it waits for another
// signal), on one engine_host (1 partition, the 3-broker in-process mock).
// The owner applies a key once: it looks for the key among the
// workflow's signals. Reported: milliseconds per signal over the first and
// the last sixth (500 of the default 3000, PERDURE_BENCH_SIGNALS to
// change), with keys found by their mark (one look-up), and, same
// run, keys too long for a mark (a 200-byte key on a 170-byte workflow id)
// found by scanning the workflow's signals, which is what every keyed
// signal did before the mark. Then the first 10 keys are sent again: each
// answered ok and applied no second time.

#include "bench.hpp"
#include "cluster_bench_host.hpp"

#include <cstdlib>
#include <perdure/eventlog/records/workflow.hpp>
#include <perdure/perdure.hpp>
#include <string>

namespace perdure::bench {

namespace {

// Signals per workflow: PERDURE_BENCH_SIGNALS, default 3000.
int signal_count() {
  const char* env = std::getenv("PERDURE_BENCH_SIGNALS");
  int n = env ? std::atoi(env) : 3000;
  return n >= 60 ? n : 60;
}

const auto ks_hold = step("bench_keyed_hold", [](int v) { return v; });

struct keyed_round {
  double first_ms = 0;
  double last_ms = 0;
  double cpu_us = 0;
  bool ok = true;
};

// Sends `signals` keyed signals to a new workflow `id`, key i made by
// `key_of(i)`, then 10 of them again; ends the workflow.
template <class KeyOf>
keyed_round send_keyed(cluster::engine_host& host, const std::string& id,
                       int signals, KeyOf key_of) {
  const int window = signals / 6; // timed at the start and at the end
  keyed_round r;
  auto eng = host.engine_of(0);
  auto h = eng->run_async(ks_hold(wait_for_signal<int>("end")), id);
  double first = 0, last = 0;
  auto cpu0 = process_cpu_s();
  for (int i = 0; i < signals; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto st = host.try_signal(id, "ev", i, key_of(i));
    double s = seconds_since(t0);
    r.ok = r.ok && static_cast<bool>(st);
    if (i < window)
      first += s;
    else if (i >= signals - window)
      last += s;
  }
  r.cpu_us = (process_cpu_s() - cpu0) * 1e6 / signals;
  for (int i = 0; i < 10; ++i) // answered ok, applied no second time
    r.ok = r.ok && static_cast<bool>(host.try_signal(id, "ev", i, key_of(i)));
  auto info = eng->event_log()->info(records::signal_stream(id));
  r.ok = r.ok && info &&
         info->last_seq - info->first_seq + 1 ==
             static_cast<eventlog::seq_t>(signals);
  r.ok = r.ok && static_cast<bool>(host.try_signal(id, "end", 7));
  r.ok = r.ok && h.get() == 7;
  r.first_ms = first * 1e3 / window;
  r.last_ms = last * 1e3 / window;
  return r;
}

} // namespace

figures cluster_signal_keyed(const bench_options& o) {
  kafka_mock_cluster mock{3};
  ok_or_throw(mock.create_topic(cluster::kafka_log_topic("bench-keyed"), 1, 3));
  auto started = cluster::engine_host::start(
      in_process_host(mock.bootstrap(), o.dir / "node", "bench-keyed"));
  ok_or_throw(started ? status{} : started.error());
  auto& host = **started;
  wait_for([&] { return host.running().size() == 1; },
           "cluster-signal-keyed: the node led no partition");
  const int signals = signal_count();
  auto marked = send_keyed(host, "keyed-short", signals,
                           [](int i) { return "k-" + std::to_string(i); });
  auto scanned =
      send_keyed(host, "keyed-long-" + std::string(170, 'x'), signals,
                 [](int i) { return fmt::format("{:0>200}", i); });
  figures f;
  f.add("signals", signals);
  f.add("mark_first_ms", marked.first_ms);
  f.add("mark_last_ms", marked.last_ms);
  f.add("mark_cpu_us_per_signal", marked.cpu_us);
  f.add("scan_first_ms", scanned.first_ms);
  f.add("scan_last_ms", scanned.last_ms);
  f.add("scan_cpu_us_per_signal", scanned.cpu_us);
  f.add("mark_last_over_first", marked.last_ms / marked.first_ms);
  f.add("scan_last_over_first", scanned.last_ms / scanned.first_ms);
  f.add("correct", marked.ok && scanned.ok ? 1 : 0);
  host.stop();
  return f;
}

PERDURE_WORKLOAD("cluster-signal-keyed",
                 "keyed signals (try_signal with a key) to one workflow "
                 "holding them, one engine_host on the 3-broker mock: ms per "
                 "signal first vs last sixth of 3000, found by mark vs by scan",
                 cluster_signal_keyed);

} // namespace perdure::bench
