// SPDX-License-Identifier: Apache-2.0
// perdure-torture: the driver. Starts a mock Kafka cluster in this process,
// then runs child lives of the workload (torture_workload.cpp) on one
// storage, killing each with SIGKILL (1 in 8 at a random point before the
// child said it was ready, i.e. during recovery; the others once the
// child's reported progress reached a random point of the work it had
// left, so they land with work in flight whatever the machine's speed);
// every life gets new workflows and records. After each kill it reads the
// log (read-only) and the effects file: a step body whose success is
// logged must have run, and from then on must never run again. A last
// life finishes the work; then every workflow's output, every actor's
// state and the stored offsets are checked.
//
// Usage: perdure-torture [--kills N] [--seed S] [--storage DIR]
//                        [--workflows W] [--records R] [--reboots 1]
//                        [--min-mid-work K]
// --reboots 1: every life under another boot id (PERDURE_BOOT_ID), so each
// starts with the journal's recovery (checkpoint restored, journal replayed).
// --min-mid-work K: fewer kills mid-work fail. Exit 0 / 1 violation / 2 usage.

#include "torture.hpp"

#include "child_process.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <perdure/eventlog/event_log.hpp>
#include <perdure/listeners/kafka.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>
#include <unistd.h>

using namespace perdure;
using namespace perdure::torture;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct config {
  int kills = 100;
  std::uint64_t seed = std::random_device{}();
  std::string storage; // empty: a temporary directory, removed when all held
  int workflows = 200;
  int records = 20000;
  bool reboots = false;
  int min_mid_work = 0; // fewer kills mid-work fail the run
};

int usage(const char* why) {
  std::fprintf(stderr,
               "perdure-torture: %s\n"
               "usage: perdure-torture [--kills N] [--seed S] [--storage DIR]"
               " [--workflows W] [--records R] [--reboots 1]\n"
               "                      [--min-mid-work K]\n"
               "  DIR must be missing or empty; it gets log/ (the engine's\n"
               "  storage) and effects.txt (one line per step execution).\n",
               why);
  return 2;
}

bool parse(int argc, char** argv, config& c) {
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc)
      return false;
    std::string value = argv[++i];
    try {
      if (flag == "--kills")
        c.kills = std::stoi(value);
      else if (flag == "--seed")
        c.seed = std::stoull(value);
      else if (flag == "--storage")
        c.storage = value;
      else if (flag == "--workflows")
        c.workflows = std::stoi(value);
      else if (flag == "--records")
        c.records = std::stoi(value);
      else if (flag == "--reboots")
        c.reboots = std::stoi(value) != 0;
      else if (flag == "--min-mid-work")
        c.min_mid_work = std::stoi(value);
      else
        return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return c.kills >= 0 && c.workflows >= 0 && c.records >= 0;
}

// -- what the log and the effects file say -------------------------------------

using step_key = std::string; // "WORKFLOW STEP"

struct effects {
  std::map<step_key, int> ok;   // started executions meant to succeed
  std::size_t executions = 0;   // every started body, failing ones too
  std::size_t planned_failures = 0;
  std::size_t malformed = 0;
};

effects read_effects(const std::string& path) {
  effects e;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);) {
    std::istringstream words{line};
    std::string life, wf, step, kind;
    if (!(words >> life >> wf >> step >> kind)
        || (kind != "ok" && kind != "fail")) {
      ++e.malformed;
      continue;
    }
    ++e.executions;
    if (kind == "ok")
      ++e.ok[wf + " " + step];
    else
      ++e.planned_failures;
  }
  return e;
}

struct log_view {
  bool opened = false;
  std::map<int, std::set<std::string>> bodies; // workflow -> completed steps
  std::set<int> finished;                      // workflow_succeeded logged
  std::int64_t taken = 0;                      // records (stored offsets)
};

eventlog::options reader_options(const std::string& storage) {
  eventlog::options o;
  o.dir = storage;
  o.read_only = true;
  o.exclusive = false;
  return o;
}

// A step body completed when its success or its continuation (a dynamic
// step's sub-graph) is logged.
log_view read_log(const std::string& storage, int workflows,
                  std::vector<std::string>& violations) {
  log_view v;
  if (!fs::exists(fs::path{storage} / "data.mdb"))
    return v;
  auto log = eventlog::event_log::open(reader_options(storage));
  if (!log) {
    violations.push_back("cannot open the log after a kill: "
                         + log.error().to_string());
    return v;
  }
  v.opened = true;
  for (int i = 0; i < workflows; ++i) {
    auto recs = (*log)->read(wf_id(i));
    if (!recs) {
      if (recs.error().code() != errc::not_found)
        violations.push_back(wf_id(i) + ": " + recs.error().to_string());
      continue;
    }
    for (auto& r : *recs) {
      std::string id;
      if (r.kind == records::to_u16(records::record_kind::step_succeeded)) {
        auto s = codec::decode<records::step_succeeded>(r.payload);
        if (s)
          id = s->id;
      } else if (r.kind
                 == records::to_u16(records::record_kind::step_continued)) {
        auto s = codec::decode<records::step_continued>(r.payload);
        if (s)
          id = s->id;
      } else if (r.kind
                 == records::to_u16(records::record_kind::workflow_succeeded)) {
        v.finished.insert(i);
        continue;
      } else {
        continue;
      }
      if (id.empty())
        violations.push_back(wf_id(i) + " seq " + std::to_string(r.seq)
                             + ": undecodable step record");
      else
        v.bodies[i].insert(id);
    }
  }
  kafka_source src{.brokers = "", .topic = topic, .group = "torture"};
  for (int p = 0; p < partitions; ++p) {
    auto off = (*log)->offset(offset_key(src, p));
    if (off)
      v.taken += off->value_or(0);
  }
  return v;
}

// -- the run ------------------------------------------------------------------------

struct tally {
  int kills = 0;
  int before_ready = 0; // killed during start-up and recovery
  int mid_work = 0;     // killed with work left and progress since the last
  std::size_t bodies = 0;
  std::size_t progress = 0;
};

class torture_run {
 public:
  torture_run(config c, std::string dir)
    : cfg_(std::move(c)), dir_(std::move(dir)), rng_(cfg_.seed) {
    storage_ = dir_ + "/log";
    effects_ = dir_ + "/effects.txt";
  }

  int run() {
    auto start = std::chrono::steady_clock::now();
    cluster_ = std::make_unique<kafka_mock_cluster>();
    if (auto st = cluster_->create_topic(topic, partitions); !st)
      return fail_now("cannot create the topic: " + st.to_string());
    producer_ = std::make_unique<kafka_producer>(cluster_->bootstrap());
    // Every life gets a slice of new work.
    int slices = std::max(1, cfg_.kills);
    for (int life = 0; t_.kills < cfg_.kills; ++life) {
      if (!release(std::min(cfg_.workflows, ceil_part(cfg_.workflows, life + 1,
                                                      slices)),
                   std::min(cfg_.records,
                            ceil_part(cfg_.records, life + 1, slices))))
        return report(start);
      kill_one_life(life);
      if (violations_.size() > 20)
        return report(start);
    }
    if (release(cfg_.workflows, cfg_.records))
      last_life(t_.kills);
    if (violations_.empty()) {
      auto fin = check_final(storage_, cfg_.workflows, cfg_.records,
                             cluster_->bootstrap());
      actor_calls_ = fin.actor_calls;
      violations_.insert(violations_.end(), fin.violations.begin(),
                         fin.violations.end());
    }
    return report(start);
  }

 private:
  static int ceil_part(int total, int part, int parts) {
    return static_cast<int>(
      (static_cast<long long>(total) * part + parts - 1) / parts);
  }

  int fail_now(std::string why) {
    violations_.push_back(std::move(why));
    std::fprintf(stderr, "perdure-torture: %s\n", violations_.back().c_str());
    return 1;
  }

  bool release(int workflows, int records) {
    released_ = std::max(released_, workflows);
    for (; produced_ < records; ++produced_) {
      auto st = producer_->produce(topic, record_key(produced_),
                                   std::to_string(record_value(produced_)),
                                   record_partition(produced_));
      if (!st) {
        violations_.push_back("produce: " + st.to_string());
        return false;
      }
    }
    if (auto st = producer_->flush(); !st) {
      violations_.push_back("flush: " + st.to_string());
      return false;
    }
    return true;
  }

  life_args args_of(int life, bool last) const {
    return {.storage = storage_, .effects = effects_,
            .brokers = cluster_->bootstrap(), .workflows = released_,
            .records = produced_, .life = life, .last = last};
  }

  // With --reboots, the next child runs under a new boot id: it finds the
  // journal left open by another boot and recovers.
  void next_boot(int life) const {
    if (cfg_.reboots)
      ::setenv("PERDURE_BOOT_ID",
               ("torture-boot-" + std::to_string(life)).c_str(), 1);
  }

  void kill_one_life(int life) {
    auto before = read_log(storage_, released_, violations_);
    next_boot(life);
    test::child_process child{"torture_life", to_args(args_of(life, false))};
    if (rng_() % 8 == 0) {
      std::uniform_int_distribution<int> ms{0, 150};
      std::this_thread::sleep_for(std::chrono::milliseconds{ms(rng_)});
      ++t_.before_ready;
    } else {
      auto line = child.read_line(120s);
      if (line != "ready") {
        violations_.push_back("life " + std::to_string(life)
                              + ": expected 'ready', got '" + line + "'");
        return;
      }
      wait_for_progress(child, remaining_work(before));
    }
    child.kill();
    // -9: killed by us; anything else means the child stopped by itself.
    if (int code = child.wait(); code != -9)
      violations_.push_back("life " + std::to_string(life)
                            + " ended by itself with code "
                            + std::to_string(code));
    ++t_.kills;
    auto started_before = effects_seen_.executions;
    auto after = observe();
    std::size_t done_before = count_bodies(before);
    bool work_left = after.finished.size()
                       < static_cast<std::size_t>(released_)
                     || after.taken < produced_;
    // Mid-work: with work left, and this life had started a body, logged
    // a body's success or stored a record.
    if (work_left && (effects_seen_.executions > started_before
                      || count_bodies(after) > done_before
                      || after.taken > before.taken))
      ++t_.mid_work;
  }

  // Body executions and records this life has left, as the log said
  // before it started (re-runs of killed bodies come on top).
  std::int64_t remaining_work(const log_view& before) const {
    std::int64_t left = produced_ - before.taken;
    for (int i = 0; i < released_; ++i) {
      auto it = before.bodies.find(i);
      left += static_cast<std::int64_t>(expected_bodies(i))
              - (it == before.bodies.end()
                   ? 0
                   : static_cast<std::int64_t>(it->second.size()));
    }
    return std::max<std::int64_t>(left, 0);
  }

  // Aims the kill at work in flight: returns once the child's reported
  // progress reached a random point in the first 80 % of what it has
  // left, or it settled (all done: that kill lands after the work), or
  // after 120 s without a line. With nothing left, a random 0-50 ms.
  void wait_for_progress(test::child_process& child, std::int64_t left) {
    if (left == 0) {
      std::uniform_int_distribution<int> ms{0, 50};
      std::this_thread::sleep_for(std::chrono::milliseconds{ms(rng_)});
      return;
    }
    std::uniform_int_distribution<std::int64_t> at{
      1, std::max<std::int64_t>(1, left * 8 / 10)};
    auto target = at(rng_);
    for (;;) {
      auto line = child.read_line(120s);
      unsigned long long bodies = 0;
      long long records = 0;
      if (std::sscanf(line.c_str(), "progress %llu %lld", &bodies, &records)
          != 2)
        return; // "settled", the end of the output or a timeout
      if (static_cast<std::int64_t>(bodies) + records >= target)
        return;
    }
  }

  void last_life(int life) {
    next_boot(life);
    test::child_process child{"torture_life", to_args(args_of(life, true))};
    std::string line;
    while (!(line = child.read_line(600s)).empty() && line != "done")
      if (line.rfind("error", 0) == 0)
        violations_.push_back("last life: " + line);
    if (line != "done")
      violations_.push_back("last life: no 'done' within 600 s");
    if (int code = child.wait(); code != 0)
      violations_.push_back("last life exited with code "
                            + std::to_string(code));
    auto v = observe();
    for (int i = 0; i < cfg_.workflows; ++i) {
      auto n = v.bodies[i].size();
      t_.bodies += n;
      if (n != expected_bodies(i))
        violations_.push_back(wf_id(i) + ": " + std::to_string(n)
                              + " step bodies logged, want "
                              + std::to_string(expected_bodies(i)));
    }
  }

  static std::size_t count_bodies(const log_view& v) {
    std::size_t n = 0;
    for (auto& [i, ids] : v.bodies)
      n += ids.size();
    return n;
  }

  // Reads the log and the effects after a life and checks exactly-once so
  // far: a logged body ran at least once, and a body seen logged before
  // never ran again.
  log_view observe() {
    auto v = read_log(storage_, released_, violations_);
    effects_seen_ = read_effects(effects_);
    for (auto& [i, ids] : v.bodies)
      for (auto& sid : ids) {
        auto key = wf_id(i) + " " + sid;
        int runs = effects_seen_.ok[key];
        if (runs < 1)
          violations_.push_back(key + ": success logged but never ran");
        auto [it, fresh] = first_seen_.emplace(key, runs);
        if (!fresh && it->second != runs)
          violations_.push_back(key + ": ran again after its success was "
                                "logged (" + std::to_string(it->second)
                                + " -> " + std::to_string(runs) + " runs)");
      }
    return v;
  }

  int report(std::chrono::steady_clock::time_point start) {
    auto secs = std::chrono::duration<double>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    std::size_t again = 0;
    for (auto& [key, runs] : effects_seen_.ok)
      again += static_cast<std::size_t>(runs > 1 ? runs - 1 : 0);
    std::printf(
      "perdure-torture: seed %llu\n"
      "  kills          %d (%d during start-up/recovery, %d mid-work)\n"
      "  workflows      %d released, each: retries, dynamic steps, a timer,"
      " an actor call\n"
      "  steps          %zu bodies logged, %zu executions (%zu planned"
      " failures, %zu re-runs of bodies killed before their success was"
      " logged)\n"
      "  records        %d produced, delivered to %d actors\n"
      "  actor calls    %zu applied\n"
      "  duration       %.1f s\n",
      static_cast<unsigned long long>(cfg_.seed), t_.kills, t_.before_ready,
      t_.mid_work, released_, t_.bodies, effects_seen_.executions,
      effects_seen_.planned_failures, again, produced_, kafka_keys,
      actor_calls_, secs);
    if (effects_seen_.malformed)
      violations_.push_back(std::to_string(effects_seen_.malformed)
                            + " malformed lines in the effects file");
    if (t_.mid_work < cfg_.min_mid_work)
      violations_.push_back(std::to_string(t_.mid_work)
                            + " kills landed mid-work, want at least "
                            + std::to_string(cfg_.min_mid_work));
    for (auto& v : violations_)
      std::printf("VIOLATION: %s\n", v.c_str());
    std::printf("result: %s\n", violations_.empty() ? "OK" : "FAILED");
    return violations_.empty() ? 0 : 1;
  }

  config cfg_;
  std::string dir_, storage_, effects_;
  std::mt19937_64 rng_;
  std::unique_ptr<kafka_mock_cluster> cluster_;
  std::unique_ptr<kafka_producer> producer_;
  int released_ = 0;
  int produced_ = 0;
  tally t_;
  std::size_t actor_calls_ = 0;
  effects effects_seen_;
  std::map<step_key, int> first_seen_;
  std::vector<std::string> violations_;
};

} // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view{argv[1]} == "--child")
    return test::run_child(argc - 2, argv + 2);
  config cfg;
  if (!parse(argc, argv, cfg))
    return usage("bad arguments");
  bool temporary = cfg.storage.empty();
  std::string dir = cfg.storage;
  if (temporary) {
    std::string tmpl = (fs::temp_directory_path() / "perdure-torture-XXXXXX")
                         .string();
    if (!::mkdtemp(tmpl.data()))
      return usage("cannot create a temporary directory");
    dir = tmpl;
  } else {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_empty(dir, ec))
      return usage("--storage must name a missing or empty directory");
  }
  int rc = torture_run{cfg, dir}.run();
  if (temporary && rc == 0)
    fs::remove_all(dir);
  else
    std::printf("storage kept in %s\n", dir.c_str());
  return rc;
}
