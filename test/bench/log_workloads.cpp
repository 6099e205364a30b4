// SPDX-License-Identifier: Apache-2.0
// Event-log workloads and their physical baselines: log-append, lmdb-raw and
// fsync-floor.

#include "bench.hpp"

#include "perdure/eventlog/event_log.hpp"

#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace perdure::bench {

namespace {

using clock_type = std::chrono::steady_clock;
using eventlog::durability;

constexpr std::size_t payload_size = 100;
// A framed record of a 100-byte payload is about this large; the raw LMDB
// baseline writes values of the same size.
constexpr std::size_t raw_value_size = 100 + 48;

void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) {
    std::fprintf(stderr, "%s: %s\n", what, mdb_strerror(rc));
    std::exit(1);
  }
}

} // namespace

// -- fsync-floor --------------------------------------------------------------

void fsync_floor(const bench_options& o, figures& f) {
  auto path = o.dir / "fsync-floor.dat";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  std::string block(4096, 'f');
  latencies lat;
  auto t0 = clock_type::now();
  while (seconds_since(t0) < o.seconds / 2 || lat.size() < 50) {
    auto s = clock_type::now();
    if (::write(fd, block.data(), block.size()) < 0 || ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      std::exit(1);
    }
    lat.add(clock_type::now() - s);
  }
  ::close(fd);
  f.add("fsync_floor_p50_us", lat.quantile_us(0.5));
  f.add("fsync_floor_p99_us", lat.quantile_us(0.99));
}

namespace {

// -- lmdb-raw -----------------------------------------------------------------

double raw_rate(const bench_options& o, const std::string& sub, int per_txn) {
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "mdb_env_create");
  mdb_env_set_mapsize(env, std::size_t{4} << 30);
  mdb_env_set_maxdbs(env, 2);
  auto dir = o.dir / sub;
  std::filesystem::create_directories(dir);
  unsigned flags = MDB_NOTLS;
  if (o.mode == durability::process)
    flags |= MDB_NOSYNC;
  check(mdb_env_open(env, dir.c_str(), flags, 0644), "mdb_env_open");
  MDB_dbi dbi;
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
  check(mdb_dbi_open(txn, "log", MDB_CREATE, &dbi), "dbi_open");
  check(mdb_txn_commit(txn), "commit");
  std::string value(raw_value_size, 'v');
  std::uint64_t n = 0;
  auto t0 = clock_type::now();
  while (seconds_since(t0) < o.seconds / 2) {
    check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    for (int i = 0; i < per_txn; ++i, ++n) {
      char key[24];
      std::memcpy(key, "stream-1", 8);
      for (int b = 0; b < 8; ++b)
        key[8 + b] = static_cast<char>((n >> (56 - 8 * b)) & 0xFF);
      MDB_val k{16, key}, v{value.size(), value.data()};
      check(mdb_put(txn, dbi, &k, &v, MDB_APPEND), "put");
    }
    check(mdb_txn_commit(txn), "commit");
  }
  auto rate = static_cast<double>(n) / seconds_since(t0);
  mdb_env_close(env);
  return rate;
}

void lmdb_raw(const bench_options& o, figures& f) {
  f.add("raw_txn_per_append_per_s", raw_rate(o, "raw1", 1));
  f.add("raw_batch100_per_s", raw_rate(o, "raw100", 100));
}

// Opens the log of a phase; a benchmark cannot go on without it.
std::unique_ptr<eventlog::event_log> open_or_exit(const eventlog::options& opts) {
  auto opened = eventlog::event_log::open(opts);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(*opened);
}

// -- log-append ---------------------------------------------------------------

// Appenders append to one shared stream (the key pattern of the raw LMDB
// baseline) or each to its own stream (more B-tree pages dirtied per commit).
// `baseline` runs the previous default commit path (sync_policy::pipelined:
// one LMDB fdatasync per commit) as a same-run baseline of the journal.
void log_append_phase(const bench_options& o, int appenders, bool distinct,
                      figures& f, bool baseline = false) {
  eventlog::options opts;
  opts.dir = o.dir / ((distinct ? "log-distinct-" : "log-")
                      + std::to_string(appenders)
                      + (baseline ? "-pipelined" : ""));
  opts.mode = o.mode;
  if (baseline)
    opts.sync = eventlog::sync_policy::pipelined;
  opts.checkpoint_interval = o.checkpoint;
  opts.writeback_interval = o.writeback;
  opts.initial_map_size = std::size_t{256} << 20;
  auto log = open_or_exit(opts);
  std::atomic<bool> stop{false};
  std::vector<latencies> lats(static_cast<std::size_t>(appenders));
  std::vector<std::thread> ts;
  auto t0 = clock_type::now();
  for (int a = 0; a < appenders; ++a)
    ts.emplace_back([&, a] {
      std::string stream =
        distinct ? "appender-" + std::to_string(a) : std::string{"shared"};
      std::string payload(payload_size, 'p');
      while (!stop.load(std::memory_order_relaxed)) {
        auto s = clock_type::now();
        if (!log->append(stream, 1, payload))
          std::abort();
        lats[static_cast<std::size_t>(a)].add(clock_type::now() - s);
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds / 2));
  stop = true;
  for (auto& t : ts)
    t.join();
  auto elapsed = seconds_since(t0);
  latencies all;
  for (auto& l : lats)
    all.merge(l);
  auto st = log->stats();
  auto p = std::string{baseline ? "pipelined_" : ""}
           + (distinct ? "distinct_a" : "a") + std::to_string(appenders) + "_";
  f.add(p + "appends_per_s", static_cast<double>(all.size()) / elapsed);
  f.add(p + "commit_p50_us", all.quantile_us(0.5));
  f.add(p + "commit_p99_us", all.quantile_us(0.99));
  f.add(p + "records_per_commit",
        static_cast<double>(st.records) / static_cast<double>(st.commits));
  f.add(p + "syncs_per_commit",
        static_cast<double>(st.syncs) / static_cast<double>(st.commits));
  add_checkpoint_figures(f, st, elapsed, p);
  std::error_code ec;
  f.add(p + "data_mib", static_cast<double>(std::filesystem::file_size(
                          opts.dir / "data.mdb", ec))
                          / (1 << 20));
}

// As the engine appends: each of `appenders` logical appenders (an actor or
// a workflow) keeps one append outstanding and submits its next one from
// the completion of the previous, so no thread blocks per appender.
void log_append_callbacks(const bench_options& o, int appenders, figures& f) {
  eventlog::options opts;
  opts.dir = o.dir / ("log-cb-" + std::to_string(appenders));
  opts.mode = o.mode;
  opts.initial_map_size = std::size_t{256} << 20;
  auto log = open_or_exit(opts);
  struct appender {
    latencies lat;
    clock_type::time_point started;
  };
  std::vector<appender> state(static_cast<std::size_t>(appenders));
  std::atomic<bool> stop{false};
  std::atomic<int> running{appenders};
  std::mutex done_mu;
  std::condition_variable done_cv;
  const std::string payload(payload_size, 'p');
  std::function<void(std::size_t)> next = [&](std::size_t a) {
    if (stop.load(std::memory_order_relaxed)) {
      if (running.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> g{done_mu};
        done_cv.notify_all();
      }
      return;
    }
    state[a].started = clock_type::now();
    eventlog::write_batch b;
    b.append("shared", 1, payload);
    log->submit(std::move(b), [&, a](result<eventlog::commit_info> r) {
      if (!r)
        std::abort();
      state[a].lat.add(clock_type::now() - state[a].started);
      next(a);
    });
  };
  auto t0 = clock_type::now();
  for (std::size_t a = 0; a < state.size(); ++a)
    next(a);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds / 2));
  stop = true;
  {
    std::unique_lock<std::mutex> g{done_mu};
    done_cv.wait(g, [&] { return running.load() == 0; });
  }
  auto elapsed = seconds_since(t0);
  latencies all;
  for (auto& s : state)
    all.merge(s.lat);
  auto st = log->stats();
  auto p = "cb_a" + std::to_string(appenders) + "_";
  f.add(p + "appends_per_s", static_cast<double>(all.size()) / elapsed);
  f.add(p + "commit_p50_us", all.quantile_us(0.5));
  f.add(p + "commit_p99_us", all.quantile_us(0.99));
  f.add(p + "records_per_commit",
        static_cast<double>(st.records) / static_cast<double>(st.commits));
}

figures run_fsync_floor(const bench_options& o) {
  figures f;
  fsync_floor(o, f);
  return f;
}

figures run_lmdb_raw(const bench_options& o) {
  figures f;
  lmdb_raw(o, f);
  return f;
}

figures run_log_append(const bench_options& o) {
  figures f;
  for (int n : {1, 8, 64})
    log_append_phase(o, n, false, f);
  log_append_phase(o, 64, true, f);
  log_append_callbacks(o, 64, f);
  if (o.mode == eventlog::durability::sync) {
    for (int n : {1, 64})
      log_append_phase(o, n, false, f, true);
    f.add("a64_vs_pipelined", f.get("a64_appends_per_s")
                                / f.get("pipelined_a64_appends_per_s"));
    f.add("a1_p50_vs_pipelined", f.get("a1_commit_p50_us")
                                   / f.get("pipelined_a1_commit_p50_us"));
  }
  // Baselines from the same run, so that the ratios do not drift with the
  // machine's load.
  lmdb_raw(o, f);
  fsync_floor(o, f);
  f.add("a64_vs_raw_batch100", f.get("a64_appends_per_s") / f.get("raw_batch100_per_s"));
  f.add("a64_vs_raw_txn_per_append",
        f.get("a64_appends_per_s") / f.get("raw_txn_per_append_per_s"));
  f.add("cb_a64_vs_raw_batch100",
        f.get("cb_a64_appends_per_s") / f.get("raw_batch100_per_s"));
  f.add("cb_a64_vs_raw_txn_per_append",
        f.get("cb_a64_appends_per_s") / f.get("raw_txn_per_append_per_s"));
  f.add("a1_p50_vs_fsync_floor",
        f.get("a1_commit_p50_us") / f.get("fsync_floor_p50_us"));
  return f;
}

// -- handoff-floor ------------------------------------------------------------

// Two threads passing a token back and forth through a mutex and a
// condition variable, as perdure's queues hand work between threads: the
// one-way latency of a hand-off to a sleeping thread on this machine.
figures run_handoff_floor(const bench_options& o) {
  std::mutex mu;
  std::condition_variable cv;
  int turn = 0; // 0: the main thread's, 1: the peer's, 2: stop
  std::thread peer{[&] {
    std::unique_lock guard{mu};
    for (;;) {
      cv.wait(guard, [&] { return turn != 0; });
      if (turn == 2)
        return;
      turn = 0;
      cv.notify_all();
    }
  }};
  latencies lat;
  auto t0 = clock_type::now();
  while (seconds_since(t0) < o.seconds || lat.size() < 1000) {
    auto s = clock_type::now();
    std::unique_lock guard{mu};
    turn = 1;
    cv.notify_all();
    cv.wait(guard, [&] { return turn == 0; });
    guard.unlock();
    lat.add((clock_type::now() - s) / 2);
  }
  {
    std::lock_guard guard{mu};
    turn = 2;
  }
  cv.notify_all();
  peer.join();
  figures f;
  f.add("handoffs", static_cast<double>(lat.size()) * 2);
  f.add("handoff_p50_us", lat.quantile_us(0.5));
  f.add("handoff_p99_us", lat.quantile_us(0.99));
  fsync_floor(o, f);
  f.add("handoff_p50_vs_fsync_floor",
        f.get("handoff_p50_us") / f.get("fsync_floor_p50_us"));
  return f;
}

} // namespace

PERDURE_WORKLOAD("handoff-floor",
                 "one-way latency of handing work to a sleeping thread "
                 "(mutex + condition variable ping-pong) vs fsync-floor",
                 run_handoff_floor);
PERDURE_WORKLOAD("fsync-floor",
                 "latency of one fdatasync after appending 4 KiB to a file",
                 run_fsync_floor);
PERDURE_WORKLOAD("lmdb-raw",
                 "raw LMDB appends: one txn per append, and 100 per txn",
                 run_lmdb_raw);
PERDURE_WORKLOAD("log-append",
                 "event_log appends from 1, 8, 64 threads vs lmdb-raw and "
                 "fsync-floor",
                 run_log_append);

} // namespace perdure::bench
