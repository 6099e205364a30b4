// SPDX-License-Identifier: Apache-2.0
// perdure-cluster-torture: perdure-mock-kafka with 3 brokers (alive for the
// whole run: the mock keeps nothing across its restarts) and N
// perdure-cluster-node processes sharing the log's partitions. A driver
// submits groups through the partitions' leaders and, each time enough of
// them were acknowledged since the last fault, SIGKILLs a node (then
// restarts it once the others took its partitions over) or SIGSTOPs one
// past its session timeout (submits to it meanwhile: a zombie once
// resumed, then SIGCONT). Every wait is for an observed condition; the
// limits only bound a failing run. At the end every node catches up to
// the log's end, stops cleanly, and cluster_torture_check.cpp checks the
// raw log against every store and every answer.
//
//   perdure-cluster-torture [--nodes N] [--kills K] [--pauses S]
//                           [--seed X] [--session-timeout-ms MS]
//                           [--heartbeat-ms MS] [--max-poll-ms MS]
//                           [--standbys K]  (K standbys per partition:
//                              only the owner and they must catch up)

#include "splitmix.hpp"
#include "cluster_torture.hpp"

#include "kafka_mock_process.hpp"
#include "torture_rerun.hpp"
#include "subprocess.hpp"
#include "temp_dir.hpp"

#include "perdure/cluster/kafka_log.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <memory>
#include <poll.h>
#include <sstream>
#include <stdexcept>

using namespace perdure;
using namespace perdure::torture;
using namespace std::chrono_literals;
using cluster::log_offset;
using clock_type = std::chrono::steady_clock;

namespace {

using rng = perdure::test::splitmix64;

struct config {
  int nodes = 3;
  int kills = 10;
  int pauses = 2;
  std::uint64_t seed = 1;
  // librdkafka 2.0.2's mock holds the first JoinGroup into an empty group
  // 3 s and evicts a member silent for its session timeout (checked each
  // second): at 2 s or less the first node is evicted before it is ever
  // assigned (docs/cluster.md, "Failover on the mock").
  int session_ms = 3000;
  int heartbeat_ms = 0; // 0: session_ms / 3
  int max_poll_ms = 0;  // 0: the node's default
  int partitions = 4;
  int in_flight = 3; // per partition
  int standbys = -1; // -1: every node tails every partition
};

struct node_slot {
  std::string id;
  std::filesystem::path dir;
  std::unique_ptr<test::subprocess> proc;
  bool alive = false;
  bool paused = false;
  bool ready = false;
  int starts = 0;
  std::map<int, log_offset> leads;          // partition -> epoch
  std::map<std::string, int> in_flight;     // payload -> partition
  std::vector<log_offset> applied;          // last "applied" answer
  std::vector<bool> tailing;                // the "tailing" before it
};

class driver {
 public:
  explicit driver(config c) : c_(c), rng_{c.seed} {
    mock_ = std::make_unique<test::kafka_mock_process>(
        std::vector<std::string>{"--brokers", "3"});
    auto answer = mock_->command("topic " + cluster::kafka_log_topic(app_)
                                 + " " + std::to_string(c_.partitions)
                                 + " 3");
    if (answer != "ok")
      throw std::runtime_error{"mock topic: " + answer};
    max_epoch_.assign(static_cast<std::size_t>(c_.partitions), -1);
    acks_of_.assign(static_cast<std::size_t>(c_.partitions), 0);
    for (int i = 0; i < c_.nodes; ++i) {
      nodes_.emplace_back();
      nodes_.back().id = "n" + std::to_string(i);
      nodes_.back().dir = dir_ / nodes_.back().id;
    }
  }

  bool mock_aborted() {
    return mock_->aborted();
  }

  int run() {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      start_node(i);
    until([&] { return all_led({}); }, "every partition led at start");
    std::vector<char> faults;
    faults.insert(faults.end(), static_cast<std::size_t>(c_.kills), 'k');
    faults.insert(faults.end(), static_cast<std::size_t>(c_.pauses), 'p');
    for (std::size_t i = faults.size(); i > 1; --i)
      std::swap(faults[i - 1], faults[rng_.below(i)]);
    for (auto f : faults) {
      cap_ += per_fault_cap;
      auto need = acks_ + 20 + rng_.below(60);
      until([&] { return acks_ >= need; }, "groups acknowledged");
      auto victim = rng_.below(nodes_.size());
      if (f == 'k')
        kill(victim);
      else
        pause(victim);
    }
    return finish();
  }

 private:
  // -- processes and their lines ------------------------------------------
  void start_node(std::size_t i) {
    auto& n = nodes_[i];
    n.proc = std::make_unique<test::subprocess>(
      std::vector<std::string>{
        PERDURE_CLUSTER_NODE, "--brokers", mock_->bootstrap(), "--app", app_,
        "--id", n.id, "--dir", n.dir.string(), "--session-timeout-ms",
        std::to_string(c_.session_ms), "--heartbeat-ms",
        std::to_string(c_.heartbeat_ms > 0 ? c_.heartbeat_ms
                                           : std::max(c_.session_ms / 3,
                                                      50)),
        "--max-poll-ms", std::to_string(c_.max_poll_ms), "--standbys",
        c_.standbys < 0 ? std::string{"all"} : std::to_string(c_.standbys)},
      test::subprocess_options{.pipe_stdin = true});
    n.alive = true;
    n.paused = false;
    n.ready = false;
    n.leads.clear();
    ++n.starts;
    until([&] { return n.ready; }, "node " + n.id + " ready");
  }

  void handle(node_slot& n, const std::string& line) {
    std::istringstream in{line};
    std::string word, payload;
    int p = -1;
    log_offset value = -1;
    in >> word;
    auto bad = [&] { return p < 0 || p >= c_.partitions; };
    if (word == "ready") {
      n.ready = true;
    } else if (word == "lead" && in >> p >> value && !bad()) {
      n.leads[p] = value;
      auto& m = max_epoch_[static_cast<std::size_t>(p)];
      m = std::max(m, value);
    } else if (word == "nolead" && in >> p && !bad()) {
      n.leads.erase(p);
    } else if (word == "ok" && in >> p >> value >> payload && !bad()) {
      n.in_flight.erase(payload);
      book_.acked[payload] = {p, value};
      ++acks_;
      ++acks_of_[static_cast<std::size_t>(p)];
    } else if (word == "failed" && in >> p >> payload) {
      n.in_flight.erase(payload);
      book_.failed.insert(payload);
    } else if (word == "unknown" && in >> p >> payload) {
      n.in_flight.erase(payload);
      book_.unknown.insert(payload);
    } else if (word == "tailing") {
      n.tailing.clear();
      while (in >> value)
        n.tailing.push_back(value == 1);
    } else if (word == "applied") {
      n.applied.clear();
      while (in >> value)
        n.applied.push_back(value);
    } else if (word != "bye") {
      std::fprintf(stderr, "torture: node %s said '%s'\n", n.id.c_str(),
                   line.c_str());
    }
  }

  // Reads what the nodes printed, waiting up to `wait` for a line.
  void pump(std::chrono::milliseconds wait) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> who;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].alive && !nodes_[i].paused) {
        fds.push_back({nodes_[i].proc->out_fd(), POLLIN, 0});
        who.push_back(i);
      }
    ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    for (auto i : who)
      for (auto& line : nodes_[i].proc->take_lines())
        handle(nodes_[i], line);
  }

  // -- submissions --------------------------------------------------------
  int leader_of(int p) const {
    int best = -1;
    log_offset epoch = -1;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      auto& n = nodes_[i];
      auto it = n.leads.find(p);
      if (n.alive && !n.paused && it != n.leads.end() && it->second > epoch) {
        best = static_cast<int>(i);
        epoch = it->second;
      }
    }
    return best;
  }

  void submit(node_slot& n, int p, bool zombie) {
    auto payload = "g" + std::to_string(++payloads_) + "-p"
                   + std::to_string(p);
    n.in_flight[payload] = p;
    if (zombie)
      book_.zombie.insert(payload);
    n.proc->send_line("submit " + std::to_string(p) + " " + payload);
  }

  void feed() {
    if (!feeding_)
      return;
    std::vector<int> flying(static_cast<std::size_t>(c_.partitions), 0);
    for (auto& n : nodes_)
      for (auto& [payload, p] : n.in_flight)
        ++flying[static_cast<std::size_t>(p)];
    for (int p = 0; p < c_.partitions; ++p) {
      auto l = acks_of_[static_cast<std::size_t>(p)] < cap_ ? leader_of(p)
                                                             : -1;
      for (auto k = flying[static_cast<std::size_t>(p)];
           l >= 0 && k < c_.in_flight; ++k)
        submit(nodes_[static_cast<std::size_t>(l)], p, false);
    }
  }

  // Feeds and reads until `done` holds; a failing run stops at the limit.
  void until(const std::function<bool()>& done, const std::string& what,
             std::chrono::seconds limit = 180s) {
    auto end = clock_type::now() + limit;
    while (!done()) {
      if (clock_type::now() > end)
        throw std::runtime_error{"no progress: " + what};
      feed();
      pump(20ms);
    }
  }

  // Every partition led by a running node, under an epoch newer than
  // `before` (when given).
  bool all_led(const std::vector<log_offset>& before) const {
    for (int p = 0; p < c_.partitions; ++p) {
      auto l = leader_of(p);
      if (l < 0)
        return false;
      auto epoch = nodes_[static_cast<std::size_t>(l)].leads.at(p);
      if (!before.empty() && epoch <= before[static_cast<std::size_t>(p)])
        return false;
    }
    return true;
  }

  // -- faults -------------------------------------------------------------
  // The epochs node n's partitions must pass (a new claim); -1 for the
  // others: their owners keep leading through the rebalance.
  std::vector<log_offset> epochs_to_pass(const node_slot& n) const {
    std::vector<log_offset> out(max_epoch_.size(), -1);
    for (auto& [p, epoch] : n.leads)
      out[static_cast<std::size_t>(p)] = max_epoch_[static_cast<std::size_t>(p)];
    return out;
  }

  void kill(std::size_t i) {
    auto& n = nodes_[i];
    auto before = epochs_to_pass(n);
    auto t0 = clock_type::now();
    if (!n.in_flight.empty())
      ++mid_work_;
    n.proc->kill();
    n.alive = false;
    for (auto& [payload, p] : n.in_flight)
      book_.unknown.insert(payload);
    n.in_flight.clear();
    n.leads.clear();
    ++kills_;
    until([&] { return all_led(before); },
          "failover after killing node " + n.id);
    failovers_.push_back(clock_type::now() - t0);
    start_node(i);
    until([&] { return !n.leads.empty() && all_led({}); },
          "restarted node " + n.id + " leads");
    std::printf("kill %d: node %s, failover %.2f s\n", kills_, n.id.c_str(),
                std::chrono::duration<double>(failovers_.back()).count());
    std::fflush(stdout);
  }

  void pause(std::size_t i) {
    auto& n = nodes_[i];
    auto before = epochs_to_pass(n);
    n.proc->signal(SIGSTOP);
    until([&] { return n.proc->stopped(); }, "node " + n.id + " stopped",
          30s);
    n.paused = true;
    // Queued on its stdin: read once it resumes, still believing it leads.
    for (auto& [p, epoch] : n.leads)
      submit(n, p, true);
    until([&] { return all_led(before); },
          "others take over from paused node " + n.id);
    auto taken = max_epoch_;
    n.proc->signal(SIGCONT);
    n.paused = false;
    ++pauses_;
    // Back: all answered, and it leads under an epoch newer than the
    // others' takeover (its old leads may linger until it reads on).
    until([&] {
      bool leads_anew = false;
      for (auto& [p, epoch] : n.leads)
        if (epoch > taken[static_cast<std::size_t>(p)])
          leads_anew = true;
      return n.in_flight.empty() && leads_anew && all_led({});
    }, "paused node " + n.id + " back");
    std::printf("pause %d: node %s\n", pauses_, n.id.c_str());
    std::fflush(stdout);
  }

  // -- the end --------------------------------------------------------------
  int finish() {
    // Faults stop: every partition takes groups again.
    cap_ += per_fault_cap;
    std::vector<std::uint64_t> from = acks_of_;
    until([&] {
      for (std::size_t p = 0; p < from.size(); ++p)
        if (acks_of_[p] < from[p] + 3)
          return false;
      return true;
    }, "groups acknowledged after the faults");
    feeding_ = false;
    until([&] {
      return std::all_of(nodes_.begin(), nodes_.end(),
                         [](auto& n) { return n.in_flight.empty(); });
    }, "every submission answered");
    auto ends = end_offsets(mock_->bootstrap(), app_);
    if (ends.size() != static_cast<std::size_t>(c_.partitions))
      throw std::runtime_error{"cannot read the log's end offsets"};
    // Every node that tails a partition catches up to the end seen now,
    // and each partition is tailed by its owner and its standbys at least.
    for (auto& n : nodes_) {
      n.applied.clear();
      n.proc->send_line("applied");
    }
    std::vector<std::vector<log_offset>> caught(nodes_.size());
    until([&] { return caught_up(ends, caught); }, "every node caught up");
    for (auto& n : nodes_) {
      n.proc->send_line("quit");
      auto code = n.proc->wait_for(120s).value_or(-1000);
      n.alive = false;
      if (code != 0)
        throw std::runtime_error{"node " + n.id + " quit with "
                                 + std::to_string(code)};
    }
    std::vector<std::filesystem::path> dirs;
    for (auto& n : nodes_)
      dirs.push_back(n.dir);
    log_figures f;
    auto problems = check_cluster(mock_->bootstrap(), app_, dirs, caught,
                                  tailed_by(), book_, f);
    report(f);
    for (auto& p : problems)
      std::fprintf(stderr, "PROBLEM: %s\n", p.c_str());
    return problems.empty() ? 0 : 1;
  }

  // How many nodes tail each partition at the end: its owner and its
  // standbys (every node without --standbys).
  std::size_t tailed_by() const {
    auto n = nodes_.size();
    return c_.standbys < 0
               ? n
               : std::min(n, static_cast<std::size_t>(c_.standbys) + 1);
  }

  // Whether the nodes that tail each partition reached `ends` there
  // (caught_up_to in cluster_torture_check.cpp); asks the others again.
  bool caught_up(const std::vector<log_offset>& ends,
                 std::vector<std::vector<log_offset>>& caught) {
    std::vector<node_answers> answers;
    for (auto& n : nodes_)
      answers.push_back({n.tailing, n.applied});
    auto again = caught_up_to(ends, answers, tailed_by(), caught);
    for (auto i : again) {
      nodes_[i].applied.clear();
      nodes_[i].proc->send_line("applied");
    }
    return again.empty();
  }

  void report(const log_figures& f) {
    std::size_t zombie_refused = 0;
    for (auto& z : book_.zombie)
      zombie_refused += book_.failed.count(z) + book_.unknown.count(z);
    std::vector<double> took;
    for (auto d : failovers_)
      took.push_back(std::chrono::duration<double>(d).count());
    std::sort(took.begin(), took.end());
    auto worst = took.empty() ? 0.0 : took.back();
    auto median = took.empty() ? 0.0 : took[took.size() / 2];
    std::printf("cluster torture: seed %llu, %d nodes, %d kills (%d with "
                "groups in flight), %d pauses; "
                "groups: %zu acknowledged, %zu failed, %zu unknown; "
                "zombie submissions %zu (%zu refused); log: %llu records, "
                "%llu claims, %llu effective, %llu fenced, %llu foreign, "
                "%llu duplicate; stores behind (no standby) %llu; "
                "failover median %.2f s, slowest %.2f s "
                "(session.timeout.ms %d)\n",
                static_cast<unsigned long long>(c_.seed), c_.nodes, kills_,
                mid_work_, pauses_, book_.acked.size(), book_.failed.size(),
                book_.unknown.size(), book_.zombie.size(), zombie_refused,
                static_cast<unsigned long long>(f.records),
                static_cast<unsigned long long>(f.claims),
                static_cast<unsigned long long>(f.effective),
                static_cast<unsigned long long>(f.fenced),
                static_cast<unsigned long long>(f.foreign),
                static_cast<unsigned long long>(f.duplicate),
                static_cast<unsigned long long>(f.stores_behind), median,
                worst,
                c_.session_ms);
    std::fflush(stdout);
  }

  config c_;
  rng rng_;
  std::string app_ = "torture";
  test::temp_dir dir_;
  std::unique_ptr<test::kafka_mock_process> mock_;
  std::vector<node_slot> nodes_;
  std::vector<log_offset> max_epoch_;
  std::vector<std::uint64_t> acks_of_;
  answer_book book_;
  std::uint64_t acks_ = 0;
  std::uint64_t payloads_ = 0;
  bool feeding_ = true;
  // Groups a partition may have acknowledged: grows by per_fault_cap per
  // fault, so that no partition outgrows the mock's retention (it drops
  // the oldest records past 5 MiB, and the check reads the log from 0).
  static constexpr std::uint64_t per_fault_cap = 400;
  std::uint64_t cap_ = 0;
  int kills_ = 0;
  int mid_work_ = 0; // kills with groups in flight on the victim
  int pauses_ = 0;
  std::vector<clock_type::duration> failovers_;
};

int usage() {
  std::fputs("usage: perdure-cluster-torture [--nodes 2..3] [--kills K] "
             "[--pauses S] [--seed X] [--session-timeout-ms MS] "
             "[--heartbeat-ms MS] [--max-poll-ms MS] [--standbys K]\n",
             stderr);
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    auto v = std::strtoll(argv[i + 1], nullptr, 10);
    if (k == "--nodes" && v >= 2 && v <= 8)
      c.nodes = static_cast<int>(v);
    else if (k == "--kills" && v >= 0)
      c.kills = static_cast<int>(v);
    else if (k == "--pauses" && v >= 0)
      c.pauses = static_cast<int>(v);
    else if (k == "--seed")
      c.seed = static_cast<std::uint64_t>(v);
    else if (k == "--session-timeout-ms" && v >= 200)
      c.session_ms = static_cast<int>(v);
    else if (k == "--heartbeat-ms" && v >= 10)
      c.heartbeat_ms = static_cast<int>(v);
    else if (k == "--max-poll-ms" && v >= 0)
      c.max_poll_ms = static_cast<int>(v);
    else if (k == "--standbys" && v >= 0 && v <= 8)
      c.standbys = static_cast<int>(v);
    else
      return usage();
  }
  if (argc % 2 != 1)
    return usage();
  return test::run_again_if_mock_aborts<driver>("cluster torture", c);
}
