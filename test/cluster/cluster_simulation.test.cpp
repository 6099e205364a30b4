// SPDX-License-Identifier: Apache-2.0
// A deterministic randomized simulation of one partition: 3-4 nodes race
// claims, pause (zombies that keep appending under their old epoch),
// restart with a new incarnation, and append through a log that reorders,
// duplicates, delays, fails and loses acks. Single-threaded stepping from a
// seed: a failing schedule prints its seed, and PERDURE_SIM_SEED=<seed>
// replays it alone (PERDURE_SIM_SCHEDULES=<n> runs n schedules).
//
// Checked against an independent reading of the raw log (the oracle):
//  - every node's store and a fresh replica hold the oracle's sequence;
//  - every applied group was written under the epoch in force (no stale
//    epoch is ever applied);
//  - a group whose caller was told success is applied once, at the offset
//    told; one told failure is never applied; none is applied twice;
//  - once faults stop, a node leads and its groups are applied.

#include "splitmix.hpp"
#include "perdure/cluster/memory_log.hpp"
#include "perdure/cluster/partition_owner.hpp"

#include "sim_lmdb_store.hpp"
#include "temp_dir.hpp"

#include <cstdlib>
#include <doctest/doctest.h>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace std::chrono_literals;

namespace {

using rng = perdure::test::splitmix64;

struct fate {
  enum state_t { pending, succeeded, failed, unknown } state = pending;
  log_offset offset = -1;
  int answers = 0;
  bool appended = false; // failed after it was appended
};

struct sim_node {
  std::string id;
  std::uint64_t incarnation = 0;
  memory_replica_store mem; // survives restarts, like a disk
  std::unique_ptr<sim::sim_lmdb_store> disk; // the LMDB variant's
  std::unique_ptr<partition_owner> owner;
  replica_store& store() {
    return disk ? static_cast<replica_store&>(*disk) : mem;
  }
  bool paused = false;
};

using applied_list = std::vector<std::pair<log_offset, std::string>>;

// The rule read straight off the raw log, written apart from judge().
struct oracle {
  applied_list applied;
  std::string error; // a stale-epoch group found applied, etc.

  explicit oracle(const std::vector<log_record>& records) {
    log_offset claim_at = -1;
    node_identity claimant;
    std::uint64_t last = 0;
    for (auto& r : records) {
      auto e = decode(r.bytes);
      if (!e) {
        error = "undecodable record at " + std::to_string(r.offset);
        return;
      }
      if (auto* c = std::get_if<claim_entry>(&*e)) {
        claim_at = r.offset;
        claimant = c->claimant;
        last = 0;
        continue;
      }
      auto& g = std::get<group_entry>(*e);
      if (g.epoch == claim_at && g.writer == claimant && g.sequence > last) {
        last = g.sequence;
        if (!g.bytes.empty())
          applied.emplace_back(r.offset, g.bytes);
      }
    }
  }
};

// The offset of the latest claim before each offset, from the raw log.
std::map<log_offset, log_offset>
epochs_in_force(const std::vector<log_record>& records) {
  std::map<log_offset, log_offset> out;
  log_offset claim_at = no_epoch;
  for (auto& r : records) {
    out[r.offset] = claim_at;
    auto e = decode(r.bytes);
    if (e && std::holds_alternative<claim_entry>(*e))
      claim_at = r.offset;
  }
  return out;
}

applied_list list_of(const memory_replica_store& s) {
  applied_list out;
  for (auto& g : s.applied())
    out.emplace_back(g.offset, g.group.bytes);
  return out;
}

// What a node's store holds, as (offset, payload): the LMDB store keeps
// records, not offsets, so there offsets are -1 (compared by payload).
applied_list list_of(sim_node& n) {
  if (!n.disk)
    return list_of(n.mem);
  applied_list out;
  for (auto& p : n.disk->payloads())
    out.emplace_back(-1, p);
  return out;
}

// The oracle's list as list_of(node) shows it.
applied_list as_stored(const applied_list& l, bool lmdb) {
  if (!lmdb)
    return l;
  applied_list out;
  for (auto& [off, bytes] : l)
    out.emplace_back(-1, sim::sim_payload(bytes));
  return out;
}

class simulation {
 public:
  explicit simulation(std::uint64_t seed,
                      const std::filesystem::path* disk = nullptr)
      : rng_{seed}
      , log_{seed ^ 0x5eed, {}} {
    faults_ = {.reorder = rng_.unit() * 0.4,
               .duplicate = rng_.unit() * 0.2,
               .delay = rng_.unit() * 0.2,
               .lose_ack = rng_.unit() * 0.2,
               .fail = rng_.unit() * 0.1,
               .gap = rng_.unit() * 0.1};
    log_.faults(faults_);
    auto n = 3 + rng_.below(2);
    for (std::size_t i = 0; i < n; ++i) {
      nodes_.push_back(std::make_unique<sim_node>());
      nodes_.back()->id = "node-" + std::string(1, char('a' + i));
      if (disk)
        nodes_.back()->disk = std::make_unique<sim::sim_lmdb_store>(
            *disk / (std::to_string(seed) + nodes_.back()->id));
      start(*nodes_.back());
    }
  }

  // Runs the schedule; returns "" or what went wrong.
  std::string run(int chaos_steps) {
    for (int i = 0; i < chaos_steps; ++i)
      chaos_step();
    if (auto err = check_prefixes(); !err.empty())
      return "after chaos: " + err;
    if (auto err = quiesce(); !err.empty())
      return err;
    return check_final();
  }

 private:
  void start(sim_node& n) {
    n.incarnation = ++incarnations_;
    owner_options o{.partition = 5,
                    .self = {n.id, n.incarnation},
                    .read_batch = 1 + rng_.below(6)};
    n.owner = std::make_unique<partition_owner>(log_, n.store(), o);
    REQUIRE(n.owner->open());
    n.paused = false;
  }

  sim_node& any_node() {
    return *nodes_[rng_.below(nodes_.size())];
  }

  void poll(sim_node& n) {
    // A store error is retried by the next poll: nothing to assert here,
    // the final checks see whether anything was lost.
    (void)n.owner->poll(0ms);
  }

  void submit(sim_node& n) {
    auto payload = "g" + std::to_string(++payloads_);
    fates_[payload];
    auto bytes = n.disk ? sim::sim_group(payload, payloads_) : payload;
    n.owner->submit(bytes, [this, payload](result<log_offset> r) {
      auto& f = fates_[payload];
      ++f.answers;
      if (r) {
        f.state = fate::succeeded;
        f.offset = *r;
      } else if (r.error() == errc::closed) {
        f.state = fate::unknown;
      } else {
        f.state = fate::failed;
        // A refusal (not leading) names no epoch the group was written
        // under: it was never appended.
        f.appended =
            r.error().message().find("written under") != std::string::npos ||
            r.error() == errc::io;
      }
    });
  }

  void chaos_step() {
    auto roll = rng_.below(100);
    auto& n = any_node();
    if (roll < 35) {
      log_.step();
    } else if (roll < 60) {
      if (!n.paused)
        poll(n);
    } else if (roll < 80) {
      // mostly to a node that believes it leads; a paused one appends
      // too: a zombie
      auto* to = &n;
      for (auto& c : nodes_)
        if (c->owner->role() == owner_role::leader && rng_.below(4) != 0)
          to = c.get();
      submit(*to);
    } else if (roll < 87) {
      if (!n.paused)
        n.owner->claim();
    } else if (roll < 92) {
      n.paused = !n.paused;
    } else if (roll < 95) {
      n.owner.reset(); // crash: its queued appends may still land
      if (n.disk)
        n.disk->reopen();
      start(n);
    } else if (roll < 98) {
      if (!n.paused)
        n.owner->release();
    } else if (n.disk) {
      n.disk->fail_next_apply();
    } else {
      n.mem.fail_next_apply();
    }
  }

  std::string quiesce() {
    log_.faults({});
    auto& chosen = any_node();
    for (auto& n : nodes_) {
      n->paused = false;
      if (n.get() != &chosen)
        n->owner->release();
    }
    std::vector<std::string> mine;
    auto applied_since = [&] {
      int ok = 0;
      for (auto& p : mine)
        ok += fates_[p].state == fate::succeeded;
      return ok;
    };
    for (int round = 0; round < 5000; ++round) {
      log_.settle();
      for (auto& n : nodes_)
        poll(*n);
      if (chosen.owner->role() == owner_role::follower)
        chosen.owner->claim();
      bool waiting =
          !mine.empty() && fates_[mine.back()].state == fate::pending;
      if (chosen.owner->role() == owner_role::leader && applied_since() < 3 &&
          !waiting) {
        submit(chosen);
        mine.push_back("g" + std::to_string(payloads_));
      }
      if (applied_since() >= 3 && log_.queued() == 0 && caught_up())
        return "";
    }
    std::ostringstream out;
    out << "liveness: no leader applied groups once faults stopped ("
        << to_string(chosen.owner->role()) << ", " << applied_since()
        << " applied)";
    return out.str();
  }

  bool caught_up() {
    auto end = log_.end_offset(0ms).value();
    for (auto& n : nodes_)
      if (n->owner->state().next < end)
        return false;
    return true;
  }

  std::string check_prefixes() {
    oracle o{log_.records()};
    if (!o.error.empty())
      return o.error;
    auto want = as_stored(o.applied, lmdb());
    for (auto& n : nodes_) {
      auto mine = list_of(*n);
      if (mine.size() > want.size() ||
          !std::equal(mine.begin(), mine.end(), want.begin()))
        return n->id + "'s store is not a prefix of the oracle's sequence";
    }
    return "";
  }

  std::string check_final() {
    auto records = log_.records();
    oracle o{records};
    if (!o.error.empty())
      return o.error;
    if (o.applied.empty())
      return "nothing applied";
    for (auto& n : nodes_)
      if (list_of(*n) != as_stored(o.applied, lmdb()))
        return n->id + " applied another sequence than the oracle";
    memory_replica_store fresh;
    partition_replica r{log_, fresh};
    REQUIRE(r.open());
    while (!r.poll(0ms, 7).value().empty()) {
    }
    if (list_of(fresh) != o.applied)
      return "a fresh replica applied another sequence than the oracle";
    auto epochs = epochs_in_force(records);
    for (auto& g : fresh.applied())
      if (g.group.epoch != epochs[g.offset])
        return "a group of a stale epoch was applied at " +
               std::to_string(g.offset);
    std::map<std::string, int> count;
    std::map<std::string, log_offset> where;
    for (auto& [off, bytes] : o.applied) {
      auto payload = lmdb() ? sim::sim_payload(bytes) : bytes;
      ++count[payload];
      where[payload] = off;
    }
    for (auto& [payload, f] : fates_) {
      if (count[payload] > 1)
        return payload + " applied twice";
      if (f.answers > 1)
        return payload + " answered twice";
      if (f.state == fate::succeeded &&
          (count[payload] != 1 || where[payload] != f.offset))
        return payload + " was told success but is not applied there";
      if (f.state == fate::failed && count[payload] != 0)
        return payload + " was told failure but is applied";
      if (f.state == fate::succeeded)
        ++succeeded_;
      if (f.state == fate::failed && f.appended)
        ++failed_;
      if (f.state == fate::unknown)
        ++unknown_;
    }
    return "";
  }

  bool lmdb() const {
    return nodes_.front()->disk != nullptr;
  }

 public:
  /// Every record the schedule's log holds.
  std::vector<log_record> records() const {
    return log_.records();
  }

  std::size_t succeeded_ = 0;
  std::size_t failed_ = 0;  // after they were appended
  std::size_t unknown_ = 0; // told closed

 private:
  rng rng_;
  memory_log log_;
  memory_log_faults faults_;
  std::vector<std::unique_ptr<sim_node>> nodes_;
  std::map<std::string, fate> fates_;
  std::uint64_t incarnations_ = 0;
  std::uint64_t payloads_ = 0;
};

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  auto* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

} // namespace

TEST_CASE("randomized schedules keep the fencing guarantees") {
  auto schedules = env_or("PERDURE_SIM_SCHEDULES", 5000);
  auto first = env_or("PERDURE_SIM_SEED", 1);
  if (std::getenv("PERDURE_SIM_SEED") && !std::getenv("PERDURE_SIM_SCHEDULES"))
    schedules = 1;
  std::size_t succeeded = 0, failed = 0, unknown = 0;
  for (std::uint64_t seed = first; seed < first + schedules; ++seed) {
    simulation sim{seed};
    auto err = sim.run(400);
    if (!err.empty()) {
      FAIL_CHECK("seed " << seed << " (PERDURE_SIM_SEED=" << seed
                         << " replays it): " << err);
      break;
    }
    succeeded += sim.succeeded_;
    failed += sim.failed_;
    unknown += sim.unknown_;
  }
  MESSAGE(schedules << " schedules: " << succeeded << " groups succeeded, "
                    << failed << " failed after their append, " << unknown
                    << " of unknown fate");
  // The faults make both outcomes common; a schedule set where one never
  // happens does not exercise the rule (one replayed seed may not show
  // both).
  if (schedules >= 100) {
    CHECK(succeeded > schedules);
    CHECK(failed > schedules / 10);
  }
}

TEST_CASE("a schedule replays identically from its seed") {
  auto run = [](std::uint64_t seed) {
    simulation sim{seed};
    REQUIRE(sim.run(400) == "");
    return sim.records();
  };
  auto a = run(4242), b = run(4242), c = run(4243);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].offset == b[i].offset);
    CHECK(a[i].bytes == b[i].bytes);
  }
  CHECK(a.size() > 10);
  bool same = a.size() == c.size();
  for (std::size_t i = 0; same && i < a.size(); ++i)
    same = a[i].bytes == c[i].bytes;
  CHECK_FALSE(same);
}

TEST_CASE("randomized schedules keep the fencing guarantees on LMDB stores") {
  // Each node's store is its own LMDB environment, reopened when the node
  // restarts; an injected failure stores some groups of a batch, then
  // fails. Fewer schedules: each opens 3-4 environments.
  auto schedules = env_or("PERDURE_SIM_LMDB_SCHEDULES", 150);
  auto first = env_or("PERDURE_SIM_SEED", 1);
  std::size_t succeeded = 0;
  for (std::uint64_t seed = first; seed < first + schedules; ++seed) {
    perdure::test::temp_dir dir;
    simulation sim{seed, &dir.path()};
    auto err = sim.run(400);
    if (!err.empty()) {
      FAIL_CHECK("LMDB seed " << seed << " (PERDURE_SIM_SEED=" << seed
                              << "): " << err);
      break;
    }
    succeeded += sim.succeeded_;
  }
  MESSAGE(schedules << " LMDB schedules: " << succeeded
                    << " groups succeeded");
  CHECK(succeeded > schedules);
}
