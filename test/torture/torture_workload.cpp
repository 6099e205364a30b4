// SPDX-License-Identifier: Apache-2.0
// The workload of perdure-torture, run by each child life, and the final
// check of what it must have left behind (outputs, actor states, offsets).
//
// Workflow i: t_retry(i) fails its first two attempts; t_dyn(i, n) is a
// dynamic step that continues into a chain of t_work steps (n = 2 + i % 3);
// t_deposit(i) calls account actor acct<i % accounts> with an idempotency key
// derived from the workflow and step; a durable timer sleeps; t_final joins
// them. Every body appends "LIFE WORKFLOW STEP ok|fail" to the effects file
// (fsynced) when it starts, so executions are counted outside the engine.

#include "torture.hpp"

#include "child_process.hpp"

#include <perdure/perdure.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;

namespace perdure::torture {

// -- the actor ---------------------------------------------------------------

struct torture_account {
  long long balance = 0;
  long long applied = 0;
  long long squares = 0; // with balance and applied, catches a lost record
                         // hidden by a duplicate of another
  long long deposit(long long amount) {
    balance += amount;
    ++applied;
    squares += amount * amount;
    return balance;
  }
  long long apply(const kafka_record& r) {
    return deposit(std::stoll(r.value));
  }
  long long value() const {
    return balance;
  }
  long long count() const {
    return applied;
  }
  long long square_sum() const {
    return squares;
  }
};
PERDURE_ACTOR(torture_account, (balance, applied, squares),
              (deposit, apply, value, count, square_sum))

namespace {

engine* current = nullptr;
std::string effects_path;
std::string life_text;
std::atomic<std::uint64_t> bodies_started{0}; // this life's effect() calls

// One fsynced line per started body: the count outside the engine.
void effect(const char* kind) {
  auto line = life_text + " " + this_step::workflow_id() + " "
              + this_step::step_id() + " " + kind + "\n";
  int fd = ::open(effects_path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot open the effects file " + effects_path);
  bool ok = ::write(fd, line.data(), line.size())
            == static_cast<ssize_t>(line.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok)
    throw std::runtime_error("cannot write the effects file");
  bodies_started.fetch_add(1);
}

// -- steps -------------------------------------------------------------------

const auto t_retry = step("t_retry", [](int i) -> long long {
  // Attempts restart at 1 on each resume, so the third attempt of a run
  // is the first that may succeed.
  bool fail = this_step::attempt() <= 2;
  effect(fail ? "fail" : "ok");
  if (fail)
    throw std::runtime_error("planned failure of attempt "
                             + std::to_string(this_step::attempt()));
  return 7LL * i;
});

const auto t_work = step("t_work", [](long long acc, int k) -> long long {
  effect("ok");
  std::this_thread::sleep_for(1ms);
  return acc + static_cast<long long>(k) * k;
});

flow<long long> t_dyn_impl(long long acc, int n);
const auto t_dyn = step("t_dyn", t_dyn_impl);
flow<long long> t_dyn_impl(long long acc, int n) {
  effect("ok");
  if (n == 0)
    return acc;
  return t_dyn(t_work(acc, n), n - 1);
}

const auto t_deposit = step("t_deposit", [](int i) -> long long {
  effect("ok");
  auto key = "wf/" + this_step::workflow_id() + "/" + this_step::step_id();
  auto acct =
    current->actor<torture_account>("acct" + std::to_string(i % accounts));
  acct.with({.key = key}).call(&torture_account::deposit, deposit_of(i));
  return deposit_of(i);
});

const auto t_final = step("t_final", [](long long a, long long d,
                                        long long c, timer_event t) {
  effect("ok");
  if (t.fired < t.due)
    throw std::runtime_error("the timer fired before its deadline");
  return a + d + c;
});

int depth_of(int i) {
  return 2 + i % 3;
}

workflow<long long> graph(int i) {
  auto a = t_retry(i);
  auto d = t_dyn(static_cast<long long>(i), depth_of(i));
  auto c = t_deposit(i);
  auto s = sleep(std::chrono::milliseconds{20 + 10 * (i % 5)});
  return t_final(a, d, c, s);
}

kafka_source source_of(const std::string& brokers) {
  // Small batches: many offset commits for kills to land between.
  return {.brokers = brokers, .topic = topic, .group = "torture",
          .max_batch = 50};
}

std::int64_t taken(engine& eng, const kafka_source& src) {
  std::int64_t n = 0;
  for (int p = 0; p < partitions; ++p)
    n += eng.event_log()->offset(offset_key(src, p)).value().value_or(0);
  return n;
}

} // namespace

// -- the shared vocabulary ---------------------------------------------------

std::string wf_id(int i) {
  return "torture" + std::to_string(i);
}

long long expected_output(int i) {
  long long squares = 0;
  for (int k = 1; k <= depth_of(i); ++k)
    squares += static_cast<long long>(k) * k;
  return 7LL * i + (i + squares) + deposit_of(i);
}

std::size_t expected_bodies(int i) {
  // t_retry, t_dyn (n + 1 of them), t_work (n), t_deposit, t_final.
  return static_cast<std::size_t>(2 * depth_of(i) + 4);
}

long long deposit_of(int i) {
  return i + 1;
}

std::string record_key(int j) {
  return "k" + std::to_string(j % kafka_keys);
}
int record_partition(int j) {
  return j % partitions;
}
long long record_value(int j) {
  return j + 1;
}

std::vector<std::string> to_args(const life_args& a) {
  return {a.storage,
          a.effects,
          a.brokers,
          std::to_string(a.workflows),
          std::to_string(a.records),
          std::to_string(a.life),
          a.last ? "last" : "killed"};
}

// -- one life of the child -----------------------------------------------------

PERDURE_CHILD_ENTRY("torture_life") {
  life_args a{.storage = args.at(0), .effects = args.at(1),
              .brokers = args.at(2), .workflows = std::stoi(args.at(3)),
              .records = std::stoi(args.at(4)), .life = std::stoi(args.at(5)),
              .last = args.at(6) == "last"};
  effects_path = a.effects;
  life_text = std::to_string(a.life);
  engine eng{{.storage = a.storage}};
  current = &eng;
  auto src = source_of(a.brokers);
  const auto taken_at_start = taken(eng, src);
  auto sub = eng.subscribe(
    src, deliver_to(&torture_account::apply, {.id_prefix = "kafka-"}));
  // A stored unfinished id resumes, a finished one returns its output.
  std::vector<handle<long long>> hs;
  for (int i = 0; i < a.workflows; ++i) {
    auto h = eng.try_run_async(graph(i), wf_id(i));
    if (!h) {
      std::printf("error: %s: %s\n", wf_id(i).c_str(),
                  h.error().to_string().c_str());
      return 3;
    }
    hs.push_back(std::move(*h));
  }
  std::printf("ready\n");
  // What the driver aims its kill by: "progress BODIES RECORDS" (bodies
  // started and records stored in this life, counted from its start: many
  // may be done before "ready") whenever either moved.
  std::atomic<bool> settled{false};
  std::thread reporter;
  if (!a.last)
    reporter = std::thread{[&] {
      std::uint64_t bodies = ~std::uint64_t{0};
      std::int64_t records = 0;
      while (!settled.load()) {
        auto b = bodies_started.load();
        auto r = taken(eng, src) - taken_at_start;
        if (b != bodies || r != records) {
          bodies = b;
          records = r;
          std::printf("progress %llu %lld\n",
                      static_cast<unsigned long long>(b),
                      static_cast<long long>(r));
        }
        std::this_thread::sleep_for(2ms);
      }
    }};
  for (auto& h : hs)
    h.wait();
  while (taken(eng, src) < a.records)
    std::this_thread::sleep_for(5ms);
  settled = true;
  if (reporter.joinable())
    reporter.join();
  std::printf("settled\n");
  if (!a.last)
    std::this_thread::sleep_for(600s);
  sub.stop();
  std::printf("done\n");
  return 0;
}

// -- the final check -----------------------------------------------------------

namespace {

struct account_sums {
  long long balance = 0;
  long long applied = 0;
  long long squares = 0;
  void add(long long v) {
    balance += v;
    ++applied;
    squares += v * v;
  }
};

void check_account(engine& eng, const std::string& id, const account_sums& want,
                   final_check& out) {
  auto ref = eng.try_get_actor<torture_account>(id);
  if (!ref) {
    if (want.applied != 0)
      out.violations.push_back("account " + id + ": "
                               + ref.error().to_string());
    return;
  }
  auto balance = ref->try_call(&torture_account::value);
  auto applied = ref->try_call(&torture_account::count);
  auto squares = ref->try_call(&torture_account::square_sum);
  if (!balance || !applied || !squares) {
    out.violations.push_back("account " + id + ": a readonly call failed");
    return;
  }
  out.actor_calls += static_cast<std::size_t>(*applied);
  if (*balance != want.balance || *applied != want.applied
      || *squares != want.squares)
    out.violations.push_back(
      "account " + id + ": balance " + std::to_string(*balance) + " (want "
      + std::to_string(want.balance) + "), calls " + std::to_string(*applied)
      + " (want " + std::to_string(want.applied) + "), squares "
      + std::to_string(*squares) + " (want " + std::to_string(want.squares)
      + ")");
}

} // namespace

final_check check_final(const std::string& storage, int workflows,
                        int records, const std::string& brokers) {
  final_check out;
  engine eng{{.storage = storage}};
  for (int i = 0; i < workflows; ++i) {
    auto st = eng.try_status(wf_id(i));
    if (!st || *st != workflow_status::successful) {
      out.violations.push_back(
        wf_id(i) + ": status "
        + (st ? std::string{to_string(*st)} : st.error().to_string()));
      continue;
    }
    auto got = eng.try_output<long long>(wf_id(i));
    if (!got || *got != expected_output(i))
      out.violations.push_back(
        wf_id(i) + ": output "
        + (got ? std::to_string(*got) : got.error().to_string()) + ", want "
        + std::to_string(expected_output(i)));
  }
  std::map<std::string, account_sums> want;
  for (int i = 0; i < workflows; ++i)
    want["acct" + std::to_string(i % accounts)].add(deposit_of(i));
  for (int j = 0; j < records; ++j)
    want["kafka-" + record_key(j)].add(record_value(j));
  for (int a = 0; a < accounts; ++a)
    check_account(eng, "acct" + std::to_string(a),
                  want["acct" + std::to_string(a)], out);
  for (int k = 0; k < kafka_keys; ++k) {
    auto id = "kafka-" + record_key(k);
    check_account(eng, id, want[id], out);
  }
  auto src = source_of(brokers);
  std::vector<std::int64_t> per_partition(partitions, 0);
  for (int j = 0; j < records; ++j)
    ++per_partition[static_cast<std::size_t>(record_partition(j))];
  for (int p = 0; p < partitions; ++p) {
    auto off = eng.event_log()->offset(offset_key(src, p));
    auto got = off ? off->value_or(0) : -1;
    if (got != per_partition[static_cast<std::size_t>(p)])
      out.violations.push_back(
        "partition " + std::to_string(p) + ": stored offset "
        + std::to_string(got) + ", want "
        + std::to_string(per_partition[static_cast<std::size_t>(p)]));
  }
  auto dead = dead_letters(eng, src);
  if (!dead || !dead->empty())
    out.violations.push_back(
      "dead letters: "
      + (dead ? std::to_string(dead->size()) : dead.error().to_string()));
  return out;
}

} // namespace perdure::torture
