// SPDX-License-Identifier: Apache-2.0
#include "cluster_engine_torture_nodes.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace perdure::test {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

bool actor_answer(const std::string& line) {
  return line.rfind("aok ", 0) == 0 || line.rfind("aerr ", 0) == 0
         || line == "acalled";
}

// A node that did not answer in time: what it said meanwhile, and every
// thread's stack when gdb is installed (the hang's evidence).
void report_silence(const node_slot& n, const std::vector<std::string>& got) {
  std::fprintf(stderr, "torture: node %s (pid %d) answered %zu lines%s%s\n",
               n.id.c_str(), n.proc->pid(), got.size(),
               got.empty() ? "" : ", the last: ",
               got.empty() ? "" : got.back().c_str());
  if (::access("/usr/bin/gdb", X_OK) != 0)
    return;
  auto cmd = "/usr/bin/gdb -batch -p " + std::to_string(n.proc->pid())
             + " -ex 'thread apply all bt 25' 1>&2 2>/dev/null";
  if (std::system(cmd.c_str()) != 0)
    std::fprintf(stderr, "torture: gdb could not read node %s\n",
                 n.id.c_str());
}

} // namespace

engine_nodes::engine_nodes(node_launch launch) : launch_(std::move(launch)) {
}

std::size_t engine_nodes::add() {
  slots_.emplace_back();
  slots_.back().id = "e" + std::to_string(slots_.size() - 1);
  slots_.back().dir = launch_.dir / slots_.back().id;
  return slots_.size() - 1;
}

void engine_nodes::start(std::size_t i) {
  auto& n = slots_[i];
  // A process stopped cleanly exits by itself (and lets its store go).
  if (n.proc && n.proc->running()
      && !n.proc->wait_for(std::chrono::milliseconds{60000}))
    throw std::runtime_error{"node " + n.id + " did not exit after bye"};
  std::vector<std::string> argv{
    launch_.program, "--brokers", launch_.brokers, "--app", launch_.app,
    "--id", n.id, "--dir", n.dir.string(), "--effects",
    launch_.effects.string(), "--session-timeout-ms",
    std::to_string(launch_.session_ms), "--heartbeat-ms",
    std::to_string(std::max(launch_.session_ms / 3, 50))};
  if (launch_.standbys >= 0) {
    argv.push_back("--standbys");
    argv.push_back(std::to_string(launch_.standbys));
  }
  if (!launch_.feed_topic.empty()) {
    argv.push_back("--feed");
    argv.push_back(launch_.feed_topic);
  }
  n.proc = std::make_unique<subprocess>(
    argv, subprocess_options{.pipe_stdin = true});
  n.alive = true;
  ++n.generation;
  n.actor_lines.clear();
  auto line = n.proc->read_line(120s);
  if (line != "ready")
    throw std::runtime_error{"node " + n.id + " did not start: '" + line
                             + "'"};
}

void engine_nodes::begin_stop(std::size_t i) {
  auto& n = slots_[i];
  if (!n.proc->send_line("quit"))
    throw std::runtime_error{"node " + n.id + " gone"};
  n.alive = false;
}

void engine_nodes::end_stop(std::size_t i) {
  answer(slots_[i], "quit", "bye");
}

bool engine_nodes::all_running(int partitions) {
  std::set<int> all;
  for (auto& ps : running())
    all.insert(ps.begin(), ps.end());
  return static_cast<int>(all.size()) == partitions;
}

std::vector<std::size_t> engine_nodes::up() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].alive && !slots_[i].paused)
      out.push_back(i);
  return out;
}

std::vector<std::string> engine_nodes::ask(node_slot& n,
                                           const std::string& command,
                                           const std::string& last) {
  if (!n.proc->send_line(command))
    throw std::runtime_error{"node " + n.id + " gone"};
  return answer(n, command, last);
}

std::vector<std::string> engine_nodes::answer(node_slot& n,
                                              const std::string& command,
                                              const std::string& last) {
  std::vector<std::string> lines;
  auto end = clock_type::now() + 120s;
  while (clock_type::now() < end) {
    auto line = n.proc->read_line(1s);
    if (line.empty())
      continue;
    if (last != "acalled" && actor_answer(line)) {
      n.actor_lines.push_back(line);
      continue;
    }
    lines.push_back(line);
    if (line.rfind(last, 0) == 0)
      return lines;
  }
  report_silence(n, lines);
  throw std::runtime_error{"node " + n.id + " did not answer '" + command
                           + "'"};
}

std::vector<std::set<int>> engine_nodes::running() {
  std::vector<std::set<int>> out(slots_.size());
  for (auto i : up()) {
    std::istringstream in{ask(slots_[i], "running", "running").back()};
    std::string word;
    int p = 0;
    in >> word;
    while (in >> p)
      out[i].insert(p);
  }
  return out;
}

} // namespace perdure::test
