// SPDX-License-Identifier: Apache-2.0
// perdure-cluster-engine-torture: workflows on a cluster's engines, with
// the nodes killed (docs/cluster.md, "The engine torture"). The mock (3
// brokers) and N perdure-cluster-engine-node processes (engine_host, a
// door each). The driver releases workflows (chains of steps whose bodies
// write each execution and its engine's epoch to a shared effects file)
// slice by slice, each slice started through one random node, and each
// time the effects file grew by a random amount: SIGKILLs a random node
// running engines (until every partition runs on the others; restarts
// it), SIGSTOPs one until the others took its partitions over (then
// SIGCONT: a zombie), stops a broker (leadership moved off it, steps must
// run on, then back), moves a partition's leader, or (half-way) adds a
// node. Ids are read through random nodes after kills and at the end.
// The verdict (cluster_engine_torture_check.cpp): one output per
// workflow, the same through any node, and a step whose success was
// logged never ran again under its epoch or a newer one. Waits are for
// observed conditions; the limits only bound a failing run.
//
//   perdure-cluster-engine-torture [--nodes N] [--kills K] [--pauses S]
//       [--workflows W] [--seed X] [--session-timeout-ms MS]
//       [--broker-stops B] [--leader-moves L] [--grow 0|1]

#include "cluster_engine_torture.hpp"
#include "splitmix.hpp"

#include "kafka_mock_process.hpp"
#include "subprocess.hpp"
#include "temp_dir.hpp"

#include "perdure/cluster/kafka_log.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int steps = test::engine_torture_steps;

struct node_slot {
  std::string id;
  std::filesystem::path dir;
  std::unique_ptr<test::subprocess> proc;
  bool alive = false;
  bool paused = false; // SIGSTOPped: not asked anything
};

class driver {
 public:
  explicit driver(test::engine_torture_config c) : c_(c), rng_{c.seed} {
    mock_ = std::make_unique<test::kafka_mock_process>(
        std::vector<std::string>{"--brokers", "3"});
    auto answer = mock_->command("topic " + cluster::kafka_log_topic(app_)
                                 + " " + std::to_string(c_.partitions)
                                 + " 3");
    if (answer != "ok")
      throw std::runtime_error{"mock topic: " + answer};
    for (int i = 0; i < c_.nodes; ++i) {
      nodes_.emplace_back();
      nodes_.back().id = "e" + std::to_string(i);
      nodes_.back().dir = dir_ / nodes_.back().id;
    }
  }

  int run() {
    auto t0 = clock_type::now();
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      start_node(i);
    until([&] { return all_running(); }, "every partition running");
    std::vector<char> faults;
    faults.insert(faults.end(), static_cast<std::size_t>(c_.kills), 'k');
    faults.insert(faults.end(), static_cast<std::size_t>(c_.pauses), 'p');
    faults.insert(faults.end(), static_cast<std::size_t>(c_.broker_stops),
                  'b');
    faults.insert(faults.end(), static_cast<std::size_t>(c_.leader_moves),
                  'l');
    for (std::size_t i = faults.size(); i > 1; --i)
      std::swap(faults[i - 1], faults[rng_.below(i)]);
    if (c_.grow)
      faults.insert(faults.begin() + static_cast<long>(faults.size() / 2),
                    'g');
    // Each fault releases a slice of new work and the last slice is left
    // for the end, so every fault has steps to wait for.
    auto n = static_cast<int>(faults.size());
    auto slice = std::max(1, (c_.workflows - extra_ * (c_.broker_stops
                                                       + c_.leader_moves))
                               / (n + 1));
    for (auto f : faults) {
      progress(slice,
               std::min<std::size_t>(20 + rng_.below(100),
                                     static_cast<std::size_t>(slice) * steps
                                         / 2 + 1),
               "steps run");
      if (f == 'k')
        kill(victim());
      else if (f == 'p')
        pause(victim());
      else if (f == 'b')
        stop_broker();
      else if (f == 'l')
        move_leader();
      else
        add_node();
    }
    released_ = c_.workflows;
    until([&] {
      start_all();
      return check_all();
    }, "every workflow succeeded", 300s);
    // Every id again through one node: most are forwarded to their owners.
    ask_forwarded(0, released_);
    verify();
    return report(t0);
  }

 private:
  // -- processes ----------------------------------------------------------
  void start_node(std::size_t i) {
    auto& n = nodes_[i];
    n.proc = std::make_unique<test::subprocess>(
      std::vector<std::string>{
        PERDURE_CLUSTER_ENGINE_NODE, "--brokers", mock_->bootstrap(),
        "--app", app_, "--id", n.id, "--dir", n.dir.string(), "--effects",
        effects_.string(), "--session-timeout-ms",
        std::to_string(c_.session_ms), "--heartbeat-ms",
        std::to_string(std::max(c_.session_ms / 3, 50))},
      test::subprocess_options{.pipe_stdin = true});
    n.alive = true;
    auto line = n.proc->read_line(120s);
    if (line != "ready")
      throw std::runtime_error{"node " + n.id + " did not start: '" + line
                               + "'"};
  }

  // Sends `command` and returns the answer's lines up to the one starting
  // with `last` (included).
  std::vector<std::string> ask(node_slot& n, const std::string& command,
                               const std::string& last) {
    if (!n.proc->send_line(command))
      throw std::runtime_error{"node " + n.id + " gone"};
    std::vector<std::string> lines;
    auto end = clock_type::now() + 120s;
    while (clock_type::now() < end) {
      auto line = n.proc->read_line(1s);
      if (line.empty())
        continue;
      lines.push_back(line);
      if (line.rfind(last, 0) == 0)
        return lines;
    }
    throw std::runtime_error{"node " + n.id + " did not answer '" + command
                             + "'"};
  }

  // The partitions each live node runs an engine for.
  std::vector<std::set<int>> running() {
    std::vector<std::set<int>> out(nodes_.size());
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].alive && !nodes_[i].paused) {
        std::istringstream in{ask(nodes_[i], "running", "running").back()};
        std::string word;
        int p = 0;
        in >> word;
        while (in >> p)
          out[i].insert(p);
      }
    return out;
  }

  bool all_running() {
    std::set<int> all;
    for (auto& ps : running())
      all.insert(ps.begin(), ps.end());
    return static_cast<int>(all.size()) == c_.partitions;
  }

  // A random node among those running engines (one that just restarted
  // may run none yet: killing it would fail nothing over).
  std::size_t victim() {
    auto now = running();
    std::vector<std::size_t> busy;
    for (std::size_t i = 0; i < now.size(); ++i)
      if (!now[i].empty())
        busy.push_back(i);
    if (busy.empty())
      return rng_.below(nodes_.size());
    return busy[rng_.below(busy.size())];
  }

  void start_all() {
    for (auto& n : nodes_)
      if (n.alive && !n.paused)
        ask(n, "start 0 " + std::to_string(released_), "started");
  }

  // Asks every node for the workflows it runs; true once every released
  // one reported an output.
  bool check_all() {
    outputs_.clear();
    for (auto& n : nodes_)
      if (!n.alive || n.paused)
        continue;
      else
        for (auto& line :
             ask(n, "check 0 " + std::to_string(released_), "checked")) {
          std::istringstream in{line};
          std::string word, id, out;
          in >> word >> id >> out;
          if (word == "out")
            outputs_[id].insert(out);
        }
    return static_cast<int>(outputs_.size()) == released_;
  }

  void kill(std::size_t i) {
    auto& n = nodes_[i];
    auto t0 = clock_type::now();
    n.proc->kill();
    n.alive = false;
    ++kills_;
    until([&] { return all_running(); },
          "failover after killing node " + n.id);
    auto took = std::chrono::duration<double>(clock_type::now() - t0);
    std::printf("kill %d: node %s, partitions running again after %.2f s\n",
                kills_, n.id.c_str(), took.count());
    std::fflush(stdout);
    // The latest ids through a survivor, while the group has not settled
    // yet (its rebalance may move partitions again meanwhile).
    ask_forwarded(std::max(0, released_ - 20), released_);
    start_node(i);
  }

  // SIGSTOP until every partition runs on the others, then SIGCONT: it
  // comes back as a zombie (its engines run on until it reads the new
  // claims) and stays a member.
  void pause(std::size_t i) {
    auto& n = nodes_[i];
    auto t0 = clock_type::now();
    n.proc->signal(SIGSTOP);
    until([&] { return n.proc->stopped(); }, "node " + n.id + " stopped",
          30s);
    n.paused = true;
    until([&] { return all_running(); },
          "others take over from paused node " + n.id);
    auto took = std::chrono::duration<double>(clock_type::now() - t0);
    n.proc->signal(SIGCONT);
    n.paused = false;
    ++pauses_;
    ask(n, "running", "running"); // it runs again
    std::printf("pause %d: node %s, partitions running elsewhere after "
                "%.2f s\n",
                pauses_, n.id.c_str(), took.count());
    std::fflush(stdout);
  }

  // -- the brokers and the group ----------------------------------------
  void mock(const std::string& command) {
    auto answer = mock_->command(command);
    if (answer != "ok")
      throw std::runtime_error{"mock: '" + command + "': " + answer};
  }

  // Releases `more` workflows and waits until `lines` more step
  // executions were recorded.
  void progress(int more, std::size_t lines, const std::string& what) {
    auto before = released_;
    released_ = std::min(c_.workflows, released_ + more);
    auto need = effect_lines() + lines;
    // The new ids through one random node (most are forwarded to their
    // owners); then every node starts what it leads and was missed.
    if (released_ > before)
      start_through_one(before, released_);
    start_all();
    auto started = clock_type::now();
    until([&] {
      // Ids whose partition had no engine (a rebalance moving it) were
      // skipped: start them again now and then.
      if (clock_type::now() - started > 1s) {
        start_all();
        started = clock_type::now();
      }
      return effect_lines() >= need;
    }, what);
  }

  // A broker stops; as a real cluster's controller would, every
  // partition's leadership leaves it. Steps must go on running; then the
  // broker comes back (its partitions' leaders stay where they are).
  void stop_broker() {
    auto t0 = clock_type::now();
    auto b = 1 + static_cast<int>(rng_.below(3));
    mock("broker down " + std::to_string(b));
    for (int p = 0; p < c_.partitions; ++p) {
      auto to = 1 + static_cast<int>((b + rng_.below(2)) % 3);
      mock("leader " + cluster::kafka_log_topic(app_) + " "
           + std::to_string(p) + " " + std::to_string(to));
    }
    ++broker_stops_;
    // Steps run fast: what was released before may all have run.
    progress(extra_, 10,
             "steps run while broker " + std::to_string(b) + " is down");
    auto took = std::chrono::duration<double>(clock_type::now() - t0);
    mock("broker up " + std::to_string(b));
    std::printf("broker %d: broker %d down, steps ran on after %.2f s\n",
                broker_stops_, b, took.count());
    std::fflush(stdout);
  }

  // A partition's leader moves to a random broker; steps go on.
  void move_leader() {
    auto t0 = clock_type::now();
    auto p = static_cast<int>(rng_.below(static_cast<std::uint64_t>(
      c_.partitions)));
    auto to = 1 + static_cast<int>(rng_.below(3));
    mock("leader " + cluster::kafka_log_topic(app_) + " " + std::to_string(p)
         + " " + std::to_string(to));
    ++leader_moves_;
    progress(extra_, 10,
             "steps run after partition " + std::to_string(p)
               + "'s leader moved");
    auto took = std::chrono::duration<double>(clock_type::now() - t0);
    std::printf("leader %d: partition %d to broker %d, steps ran on after "
                "%.2f s\n",
                leader_moves_, p, to, took.count());
    std::fflush(stdout);
  }

  // A node joins: the group gives it partitions, which it claims.
  void add_node() {
    auto t0 = clock_type::now();
    auto i = nodes_.size();
    nodes_.emplace_back();
    nodes_.back().id = "e" + std::to_string(i);
    nodes_.back().dir = dir_ / nodes_.back().id;
    start_node(i);
    until([&] { return !running()[i].empty() && all_running(); },
          "node " + nodes_[i].id + " joined and runs a partition");
    auto took = std::chrono::duration<double>(clock_type::now() - t0);
    std::printf("grow: node %s added, runs partitions after %.2f s\n",
                nodes_[i].id.c_str(), took.count());
    std::fflush(stdout);
  }

  void until(const std::function<bool()>& done, const std::string& what,
             std::chrono::seconds limit = 180s) {
    auto end = clock_type::now() + limit;
    while (!done()) {
      if (clock_type::now() > end)
        throw std::runtime_error{"no progress: " + what};
      std::this_thread::sleep_for(50ms); // a poll interval, not a wait
    }
  }

  // -- the effects --------------------------------------------------------
  std::size_t effect_lines() const {
    std::ifstream in{effects_};
    std::size_t n = 0;
    std::string line;
    while (std::getline(in, line))
      ++n;
    return n;
  }

  // A random running node starts ids FROM .. TO-1 through its host.
  void start_through_one(int from, int to) {
    auto& n = random_up();
    for (auto& line : ask(n, "fstart " + std::to_string(from) + " "
                               + std::to_string(to), "fstarted")) {
      std::istringstream in{line};
      std::string word;
      long started = 0;
      in >> word;
      if (word == "fstarted" && in >> started)
        forward_started_ += static_cast<std::size_t>(started);
      else if (word == "err" && ++forward_start_errors_ <= 5)
        std::printf("a start through node %s failed: %s\n", n.id.c_str(),
                    line.c_str());
    }
  }

  node_slot& random_up() {
    std::vector<std::size_t> up;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].alive && !nodes_[i].paused)
        up.push_back(i);
    return nodes_[up[rng_.below(up.size())]];
  }

  // A random running node answers ids FROM .. TO-1 through its host (its
  // own, or forwarded to the owner's door); the outputs are kept for
  // verify(), an id not finished yet answers an error (counted).
  void ask_forwarded(int from, int to) {
    auto& n = random_up();
    for (auto& line : ask(n, "fcheck " + std::to_string(from) + " "
                               + std::to_string(to), "fchecked")) {
      std::istringstream in{line};
      std::string word, id, out;
      in >> word >> id >> out;
      if (word == "out")
        forwarded_[id].insert(out);
      else if (word == "err")
        ++forward_errors_;
    }
  }

  void verify() {
    auto v = test::verify_effects(effects_, c_.workflows, outputs_,
                                  forwarded_);
    executions_ = v.executions;
    rerun_ = v.reruns;
    zombie_runs_ = v.zombie_runs;
    violations_.insert(violations_.end(), v.violations.begin(),
                       v.violations.end());
  }

  int report(clock_type::time_point t0) {
    for (auto& n : nodes_)
      if (n.alive)
        ask(n, "quit", "bye");
    auto secs = std::chrono::duration<double>(clock_type::now() - t0);
    std::printf("perdure-cluster-engine-torture: seed %llu\n"
                "  nodes          %zu (%d at the start), %d partitions\n"
                "  kills          %d (SIGKILL, restarted)\n"
                "  pauses         %d (SIGSTOP past the takeover, SIGCONT)\n"
                "  broker stops   %d, leader moves %d\n"
                "  through random nodes %zu started (%zu failed), %zu"
                " answered (%zu not finished yet)\n"
                "  workflows      %d, %d steps each\n"
                "  executions     %zu (%zu re-runs of steps killed before"
                " their success was logged, %zu zombie runs after it)\n"
                "  duration       %.1f s\n",
                static_cast<unsigned long long>(c_.seed), nodes_.size(),
                c_.nodes, c_.partitions, kills_, pauses_, broker_stops_,
                leader_moves_, forward_started_, forward_start_errors_,
                forwarded_.size(), forward_errors_,
                c_.workflows, steps, executions_, rerun_,
                zombie_runs_, secs.count());
    for (auto& v : violations_)
      std::printf("VIOLATION: %s\n", v.c_str());
    std::printf("result: %s\n", violations_.empty() ? "OK" : "FAILED");
    return violations_.empty() ? 0 : 1;
  }

  test::engine_torture_config c_;
  test::splitmix64 rng_;
  test::temp_dir dir_;
  std::string app_ = "etorture";
  std::filesystem::path effects_ = dir_ / "effects";
  std::unique_ptr<test::kafka_mock_process> mock_;
  std::vector<node_slot> nodes_;
  int released_ = 0;
  // Workflows progress() releases after a broker or leader fault (run()
  // keeps them out of the slices).
  static constexpr int extra_ = 5;
  int kills_ = 0;
  int pauses_ = 0;
  int broker_stops_ = 0;
  int leader_moves_ = 0;
  std::map<std::string, std::set<std::string>> outputs_;
  // Outputs read through random nodes (ask_forwarded), and the errors.
  std::map<std::string, std::set<std::string>> forwarded_;
  std::size_t forward_errors_ = 0;
  // Workflows started through random nodes, and the starts that failed.
  std::size_t forward_started_ = 0;
  std::size_t forward_start_errors_ = 0;
  std::size_t executions_ = 0;
  std::size_t rerun_ = 0;
  std::size_t zombie_runs_ = 0;
  std::vector<std::string> violations_;
};

} // namespace

int main(int argc, char** argv) {
  try {
    driver d{test::parse_engine_torture(argc, argv)};
    return d.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "perdure-cluster-engine-torture: %s\n", e.what());
    return 1;
  }
}
