// SPDX-License-Identifier: Apache-2.0
// perdure-cluster-engine-torture: workflows on a cluster's engines, with
// the nodes killed. perdure-mock-kafka (3 brokers, alive for the whole
// run) and N perdure-cluster-engine-node processes (engine_host). The
// driver releases workflows (chains of steps whose bodies write each
// execution and the epoch its engine serves to a shared effects file)
// slice by slice and, each time the effects file grew by a random amount
// since the last fault, SIGKILLs a random node running engines (waits
// until every partition runs on the others, whose engines resume the
// partition's workflows, and restarts it) or SIGSTOPs one until the
// others took its partitions over, then SIGCONTs it: a zombie whose
// engines still run bodies until it reads the new claims. At the end
// every workflow must have succeeded with one output, and for each step
// the execution its log kept (named in the output) must have run under
// an epoch no lower than any execution before it (else a stale owner's
// result won), with no execution after it under that epoch or a newer
// one: a step whose success was logged never runs again, across
// failovers; only a zombie's bodies (an older epoch, or none: its host
// had let the engine go) may run after it, and their results are fenced.
// Waits are for observed conditions; the limits only bound a failing run.
//
//   perdure-cluster-engine-torture [--nodes N] [--kills K] [--pauses S]
//       [--workflows W] [--seed X] [--session-timeout-ms MS]

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

constexpr int steps = 4; // as perdure-cluster-engine-node's chains

struct config {
  int nodes = 3;
  int kills = 6;
  int pauses = 2;
  int workflows = 600;
  std::uint64_t seed = 1;
  int session_ms = 3000;
  int partitions = 4;
};

struct node_slot {
  std::string id;
  std::filesystem::path dir;
  std::unique_ptr<test::subprocess> proc;
  bool alive = false;
  bool paused = false; // SIGSTOPped: not asked anything
};

// One execution line of the effects file: "X WF K EXEC".
struct execution {
  std::size_t line = 0;
  std::string exec;
  long long epoch = -1; // the epoch its engine served; -1: a let-go one
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
    for (std::size_t i = faults.size(); i > 1; --i)
      std::swap(faults[i - 1], faults[rng_.below(i)]);
    // Each fault releases a slice of new work and the last slice is left
    // for the end, so every fault has steps to wait for.
    auto n = static_cast<int>(faults.size());
    auto slice = std::max(1, c_.workflows / (n + 1));
    for (auto f : faults) {
      released_ = std::min(c_.workflows, released_ + slice);
      start_all();
      auto need = effect_lines()
                  + std::min<std::size_t>(20 + rng_.below(100),
                                          static_cast<std::size_t>(slice)
                                            * steps / 2 + 1);
      auto started = clock_type::now();
      until([&] {
        // Ids whose partition had no engine (a rebalance moving it) were
        // skipped: start them again now and then.
        if (clock_type::now() - started > 1s) {
          start_all();
          started = clock_type::now();
        }
        return effect_lines() >= need;
      }, "steps run");
      if (f == 'k')
        kill(victim());
      else
        pause(victim());
    }
    released_ = c_.workflows;
    until([&] {
      start_all();
      return check_all();
    }, "every workflow succeeded", 300s);
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

  // Every execution of every step, by "WF K", in the file's order.
  std::map<std::string, std::vector<execution>> executions() {
    std::map<std::string, std::vector<execution>> all;
    std::ifstream in{effects_};
    std::string line;
    for (std::size_t no = 0; std::getline(in, line); ++no) {
      std::istringstream words{line};
      std::string x, wf, exec;
      int k = 0;
      long long epoch = -1;
      if (!(words >> x >> wf >> k >> exec >> epoch) || x != "X") {
        violations_.push_back("malformed effects line " + std::to_string(no)
                              + ": '" + line + "'");
        continue;
      }
      all[wf + " " + std::to_string(k)].push_back({no, exec, epoch});
      ++executions_;
    }
    return all;
  }

  void verify() {
    auto all = executions();
    for (int i = 0; i < c_.workflows; ++i) {
      auto id = "w-" + std::to_string(i);
      auto it = outputs_.find(id);
      if (it == outputs_.end() || it->second.size() != 1) {
        violations_.push_back(id + ": not one output");
        continue;
      }
      // "|EXEC1|EXEC2|...": the execution of each step its log kept.
      std::vector<std::string> kept;
      std::istringstream in{*it->second.begin()};
      std::string part;
      std::getline(in, part, '|'); // empty before the first '|'
      while (std::getline(in, part, '|'))
        kept.push_back(part);
      if (kept.size() != steps) {
        violations_.push_back(id + ": output '" + *it->second.begin()
                              + "' does not name " + std::to_string(steps)
                              + " executions");
        continue;
      }
      for (int k = 1; k <= steps; ++k)
        check_step(id, k, kept[static_cast<std::size_t>(k - 1)],
                   all[id + " " + std::to_string(k)]);
    }
  }

  void check_step(const std::string& id, int k, const std::string& kept,
                  const std::vector<execution>& runs) {
    auto key = id + " step " + std::to_string(k);
    auto at = std::find_if(runs.begin(), runs.end(),
                           [&](const execution& e) { return e.exec == kept; });
    if (at == runs.end()) {
      violations_.push_back(key + ": its logged execution " + kept
                            + " never ran");
      return;
    }
    rerun_ += static_cast<std::size_t>(at - runs.begin());
    if (at->epoch < 0) {
      violations_.push_back(key + ": its logged execution " + kept
                            + " ran on an engine its host had let go");
      return;
    }
    for (auto e = runs.begin(); e != at; ++e)
      if (e->epoch > at->epoch)
        violations_.push_back(key + ": the log kept " + kept + " (epoch "
                              + std::to_string(at->epoch) + ") over "
                              + e->exec + " run by a newer owner (epoch "
                              + std::to_string(e->epoch) + ")");
    for (auto e = at + 1; e != runs.end(); ++e) {
      if (e->epoch >= at->epoch)
        violations_.push_back(key + ": ran again (" + e->exec + ", epoch "
                              + std::to_string(e->epoch)
                              + ") after the execution its log kept ("
                              + kept + ", epoch "
                              + std::to_string(at->epoch) + ")");
      else
        ++zombie_runs_;
    }
  }

  int report(clock_type::time_point t0) {
    for (auto& n : nodes_)
      if (n.alive)
        ask(n, "quit", "bye");
    auto secs = std::chrono::duration<double>(clock_type::now() - t0);
    std::printf("perdure-cluster-engine-torture: seed %llu\n"
                "  nodes          %d, %d partitions\n"
                "  kills          %d (SIGKILL, restarted)\n"
                "  pauses         %d (SIGSTOP past the takeover, SIGCONT)\n"
                "  workflows      %d, %d steps each\n"
                "  executions     %zu (%zu re-runs of steps killed before"
                " their success was logged, %zu zombie runs after it)\n"
                "  duration       %.1f s\n",
                static_cast<unsigned long long>(c_.seed), c_.nodes,
                c_.partitions, kills_, pauses_, c_.workflows, steps,
                executions_, rerun_, zombie_runs_, secs.count());
    for (auto& v : violations_)
      std::printf("VIOLATION: %s\n", v.c_str());
    std::printf("result: %s\n", violations_.empty() ? "OK" : "FAILED");
    return violations_.empty() ? 0 : 1;
  }

  config c_;
  test::splitmix64 rng_;
  test::temp_dir dir_;
  std::string app_ = "etorture";
  std::filesystem::path effects_ = dir_ / "effects";
  std::unique_ptr<test::kafka_mock_process> mock_;
  std::vector<node_slot> nodes_;
  int released_ = 0;
  int kills_ = 0;
  int pauses_ = 0;
  std::map<std::string, std::set<std::string>> outputs_;
  std::size_t executions_ = 0;
  std::size_t rerun_ = 0;
  std::size_t zombie_runs_ = 0;
  std::vector<std::string> violations_;
};

config parse(int argc, char** argv) {
  config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    auto v = std::stoll(argv[i + 1]);
    if (k == "--nodes")
      c.nodes = static_cast<int>(v);
    else if (k == "--kills")
      c.kills = static_cast<int>(v);
    else if (k == "--pauses")
      c.pauses = static_cast<int>(v);
    else if (k == "--workflows")
      c.workflows = static_cast<int>(v);
    else if (k == "--seed")
      c.seed = static_cast<std::uint64_t>(v);
    else if (k == "--session-timeout-ms")
      c.session_ms = static_cast<int>(v);
    else
      throw std::invalid_argument{"unknown option " + k};
  }
  if (c.nodes < 2 || c.kills < 0 || c.pauses < 0 || c.workflows < 1)
    throw std::invalid_argument{"need --nodes >= 2, --kills >= 0, "
                                "--pauses >= 0, --workflows >= 1"};
  return c;
}

} // namespace

int main(int argc, char** argv) {
  try {
    driver d{parse(argc, argv)};
    return d.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "perdure-cluster-engine-torture: %s\n", e.what());
    return 1;
  }
}
