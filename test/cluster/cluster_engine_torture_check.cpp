// SPDX-License-Identifier: Apache-2.0
#include "cluster_engine_torture.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace perdure::test {

namespace {

// One execution line of the effects file: "X WF K EXEC EPOCH".
struct execution {
  std::size_t line = 0;
  std::string exec;
  long long epoch = -1; // the epoch its engine served; -1: a let-go one
};

// Every execution of every step, by "WF K", in the file's order.
std::map<std::string, std::vector<execution>>
executions(const std::filesystem::path& effects, effects_verdict& v) {
  std::map<std::string, std::vector<execution>> all;
  std::ifstream in{effects};
  std::string line;
  for (std::size_t no = 0; std::getline(in, line); ++no) {
    std::istringstream words{line};
    std::string x, wf, exec;
    int k = 0;
    long long epoch = -1;
    if (!(words >> x >> wf >> k >> exec >> epoch) || x != "X") {
      v.violations.push_back("malformed effects line " + std::to_string(no)
                             + ": '" + line + "'");
      continue;
    }
    all[wf + " " + std::to_string(k)].push_back({no, exec, epoch});
    ++v.executions;
  }
  return all;
}

void check_step(const std::string& id, int k, const std::string& kept,
                const std::vector<execution>& runs, effects_verdict& v) {
  auto key = id + " step " + std::to_string(k);
  auto at = std::find_if(runs.begin(), runs.end(),
                         [&](const execution& e) { return e.exec == kept; });
  if (at == runs.end()) {
    v.violations.push_back(key + ": its logged execution " + kept
                           + " never ran");
    return;
  }
  v.reruns += static_cast<std::size_t>(at - runs.begin());
  if (at->epoch < 0) {
    v.violations.push_back(key + ": its logged execution " + kept
                           + " ran on an engine its host had let go");
    return;
  }
  for (auto e = runs.begin(); e != at; ++e)
    if (e->epoch > at->epoch)
      v.violations.push_back(key + ": the log kept " + kept + " (epoch "
                             + std::to_string(at->epoch) + ") over "
                             + e->exec + " run by a newer owner (epoch "
                             + std::to_string(e->epoch) + ")");
  for (auto e = at + 1; e != runs.end(); ++e) {
    if (e->epoch >= at->epoch)
      v.violations.push_back(key + ": ran again (" + e->exec + ", epoch "
                             + std::to_string(e->epoch)
                             + ") after the execution its log kept ("
                             + kept + ", epoch "
                             + std::to_string(at->epoch) + ")");
    else
      ++v.zombie_runs;
  }
}

} // namespace

engine_torture_config parse_engine_torture(int argc, char** argv) {
  engine_torture_config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    auto v = std::stoll(argv[i + 1]);
    if (k == "--nodes")
      c.nodes = static_cast<int>(v);
    else if (k == "--kills")
      c.kills = static_cast<int>(v);
    else if (k == "--pauses")
      c.pauses = static_cast<int>(v);
    else if (k == "--quits")
      c.quits = static_cast<int>(v);
    else if (k == "--workflows")
      c.workflows = static_cast<int>(v);
    else if (k == "--seed")
      c.seed = static_cast<std::uint64_t>(v);
    else if (k == "--session-timeout-ms")
      c.session_ms = static_cast<int>(v);
    else if (k == "--broker-stops")
      c.broker_stops = static_cast<int>(v);
    else if (k == "--leader-moves")
      c.leader_moves = static_cast<int>(v);
    else if (k == "--grow")
      c.grow = v != 0;
    else if (k == "--actors")
      c.actors = static_cast<int>(v);
    else if (k == "--records")
      c.records = static_cast<int>(v);
    else if (k == "--standbys")
      c.standbys = static_cast<int>(v);
    else
      throw std::invalid_argument{"unknown option " + k};
  }
  if (c.nodes < 2 || c.kills < 0 || c.pauses < 0 || c.quits < 0
      || c.workflows < 1
      || c.broker_stops < 0 || c.leader_moves < 0 || c.actors < 0
      || c.records < 0 || c.standbys < -1)
    throw std::invalid_argument{"need --nodes >= 2, --kills >= 0, "
                                "--pauses >= 0, --quits >= 0, "
                                "--workflows >= 1, "
                                "--broker-stops >= 0, --leader-moves >= 0, "
                                "--actors >= 0, --records >= 0"};
  return c;
}

effects_verdict
verify_effects(const std::filesystem::path& effects, int workflows,
               const std::map<std::string, std::set<std::string>>& outputs,
               const std::map<std::string, std::set<std::string>>& forwarded) {
  effects_verdict v;
  auto all = executions(effects, v);
  for (int i = 0; i < workflows; ++i) {
    auto id = "w-" + std::to_string(i);
    auto it = outputs.find(id);
    auto f = forwarded.find(id);
    if (f == forwarded.end())
      v.violations.push_back(id + ": no output through a random node");
    else if (it != outputs.end() && f->second != it->second)
      v.violations.push_back(id + ": an output through a random node ("
                             + *f->second.begin() + ") is not its owner's");
    if (it == outputs.end() || it->second.size() != 1) {
      v.violations.push_back(id + ": not one output");
      continue;
    }
    // "|EXEC1|EXEC2|...": the execution of each step its log kept.
    std::vector<std::string> kept;
    std::istringstream in{*it->second.begin()};
    std::string part;
    std::getline(in, part, '|'); // empty before the first '|'
    while (std::getline(in, part, '|'))
      kept.push_back(part);
    if (kept.size() != engine_torture_steps) {
      v.violations.push_back(id + ": output '" + *it->second.begin()
                             + "' does not name "
                             + std::to_string(engine_torture_steps)
                             + " executions");
      continue;
    }
    for (int k = 1; k <= engine_torture_steps; ++k)
      check_step(id, k, kept[static_cast<std::size_t>(k - 1)],
                 all[id + " " + std::to_string(k)], v);
  }
  return v;
}

std::size_t count_lines(const std::filesystem::path& path) {
  std::ifstream in{path};
  std::size_t n = 0;
  std::string line;
  while (std::getline(in, line))
    ++n;
  return n;
}

int report_engine_torture(const engine_torture_config& c,
                          const engine_torture_summary& s) {
  std::printf("perdure-cluster-engine-torture: seed %llu\n"
              "  nodes          %zu (%d at the start), %d partitions\n"
              "  kills          %d (SIGKILL, restarted)\n"
              "  pauses         %d (SIGSTOP past the takeover, SIGCONT)\n"
              "  quits          %d (clean stop, handed over, restarted)\n"
              "  broker stops   %d, leader moves %d\n"
              "  through random nodes %zu started (%zu failed), %zu"
              " answered (%zu not finished yet)\n"
              "  actors         %d, %d rounds: %zu calls through random"
              " nodes (%zu tried again, %zu error answers); each call"
              " relays to m-I and tells t-I\n"
              "  kafka records  %zu through a feed on every node\n"
              "  workflows      %d, %d steps each\n"
              "  executions     %zu (%zu re-runs of steps killed before"
              " their success was logged, %zu zombie runs after it)\n"
              "  duration       %.1f s\n",
              static_cast<unsigned long long>(c.seed), s.nodes, c.nodes,
              c.partitions, s.kills, s.pauses, s.quits, s.broker_stops,
              s.leader_moves, s.forward_started, s.forward_start_errors,
              s.forward_answered, s.forward_errors, c.actors,
              s.actor_rounds, s.actor_calls, s.actor_retries,
              s.actor_errors, s.feed_records, c.workflows, engine_torture_steps,
              s.executions, s.reruns, s.zombie_runs, s.seconds);
  for (auto& v : s.violations)
    std::printf("VIOLATION: %s\n", v.c_str());
  std::printf("result: %s\n", s.violations.empty() ? "OK" : "FAILED");
  std::fflush(stdout);
  return s.violations.empty() ? 0 : 1;
}

} // namespace perdure::test
