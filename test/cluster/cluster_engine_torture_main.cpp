// SPDX-License-Identifier: Apache-2.0
// perdure-cluster-engine-torture: workflows on a cluster's engines, with
// the nodes killed (docs/cluster.md, "The engine torture"). The mock (3
// brokers) and N perdure-cluster-engine-node processes (engine_host, a
// door each). The driver releases workflows (chains of steps, the last two
// in a child of another partition for most ids, whose bodies write each
// execution and its engine's epoch to a shared effects file) slice by
// slice, each started through one random node, and each time the effects
// file grew by a random amount: SIGKILLs a random node running engines
// (until every partition runs on the others; restarts it), SIGSTOPs one
// until the others took its partitions over (then SIGCONT: a zombie),
// stops one cleanly (its partitions handed over; restarts it),
// stops a broker (leadership moved off it, steps run on, then back),
// moves a partition's leader, or (half-way) adds a node. Ids are read
// through random nodes after kills and at the end. Before each fault a
// round of calls to the tally actors (which call and tell others) starts
// through a random node, tried again by the same keys elsewhere until
// acknowledged; all are read at the end (..._actors.hpp). The verdict: one
// output per workflow, the same through any node, and a step whose
// success was logged never ran again under its epoch or a newer one.
// Waits are for observed conditions; limits only bound a failing run.
//
//   perdure-cluster-engine-torture [--nodes N] [--kills K] [--pauses S]
//       [--quits Q] [--workflows W] [--seed X] [--session-timeout-ms MS]
//       [--broker-stops B] [--leader-moves L] [--grow 0|1] [--actors A]
//       [--records R]  (Kafka records fed into actors by every node,
//                      cluster_engine_torture_feed.hpp) [--standbys K]

#include "cluster_engine_torture.hpp"
#include "cluster_engine_torture_actors.hpp"
#include "cluster_engine_torture_feed.hpp"
#include "cluster_engine_torture_nodes.hpp"
#include "splitmix.hpp"

#include "kafka_mock_process.hpp"
#include "torture_rerun.hpp"
#include "temp_dir.hpp"

#include "perdure/cluster/kafka_log.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
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

class driver {
 public:
  explicit driver(test::engine_torture_config c)
    : c_(c), rng_{c.seed}, book_{c.actors} {
    mock_ = std::make_unique<test::kafka_mock_process>(
        std::vector<std::string>{"--brokers", "3"});
    auto answer = mock_->command("topic " + cluster::kafka_log_topic(app_)
                                 + " " + std::to_string(c_.partitions)
                                 + " 3");
    if (answer != "ok")
      throw std::runtime_error{"mock topic: " + answer};
    if (c_.records > 0) { // the input topic and its dead letters
      mock("topic " + feed_topic_ + " " + std::to_string(c_.partitions)
           + " 3");
      mock("topic " + feed_topic_ + ".dead-letter 1");
      feed_ = std::make_unique<test::feed_book>(8, mock_->bootstrap(),
                                                feed_topic_);
    }
    nodes_ = std::make_unique<test::engine_nodes>(test::node_launch{
      PERDURE_CLUSTER_ENGINE_NODE, mock_->bootstrap(), app_, dir_.path(),
      effects_, c_.session_ms, feed_ ? feed_topic_ : "", c_.standbys});
    for (int i = 0; i < c_.nodes; ++i)
      nodes_->add();
  }

  bool mock_aborted() {
    return mock_->aborted();
  }

  int run() {
    auto t0 = clock_type::now();
    for (std::size_t i = 0; i < nodes_->size(); ++i)
      nodes_->start(i);
    until([&] { return all_running(); }, "every partition running");
    std::vector<char> faults;
    faults.insert(faults.end(), static_cast<std::size_t>(c_.kills), 'k');
    faults.insert(faults.end(), static_cast<std::size_t>(c_.pauses), 'p');
    faults.insert(faults.end(), static_cast<std::size_t>(c_.quits), 'q');
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
      if (feed_) // in flight while the fault strikes
        feed_->produce(c_.records / (n + 1));
      auto caller = begin_calls();
      if (f == 'k')
        kill(victim());
      else if (f == 'p')
        pause(victim());
      else if (f == 'q')
        kill(victim(), true);
      else if (f == 'b')
        stop_broker();
      else if (f == 'l')
        move_leader();
      else
        add_node();
      finish_calls(caller);
    }
    released_ = c_.workflows;
    until([&] {
      start_all();
      return check_all();
    }, "every workflow succeeded", 300s);
    if (feed_)
      feed_->produce(c_.records - static_cast<int>(feed_->produced()));
    until([&] { // told messages and Kafka records apply after their acks
      auto& n = random_up();
      return book_.told_done(ask(n, book_.told_get(), "agot"))
             && (!feed_
                 || feed_->caught_up(ask(n, feed_->get_command(), "agot")));
    }, "every told message and Kafka record applied", 300s);
    // Every id again through one node: most are forwarded to their owners.
    ask_forwarded(0, released_);
    verify();
    s_.seconds = std::chrono::duration<double>(clock_type::now() - t0)
                   .count();
    return report();
  }

 private:
  std::vector<std::string> ask(test::node_slot& n, const std::string& command,
                               const std::string& last) {
    return nodes_->ask(n, command, last);
  }
  bool all_running() {
    return nodes_->all_running(c_.partitions);
  }

  // A random node among those running engines (one that just restarted
  // may run none yet: killing it would fail nothing over).
  std::size_t victim() {
    auto now = nodes_->running();
    std::vector<std::size_t> busy;
    for (std::size_t i = 0; i < now.size(); ++i)
      if (!now[i].empty())
        busy.push_back(i);
    if (busy.empty())
      return rng_.below(nodes_->size());
    return busy[rng_.below(busy.size())];
  }

  void start_all() {
    for (auto i : nodes_->up())
      ask((*nodes_)[i], "start 0 " + std::to_string(released_), "started");
  }

  // Asks every node for the workflows it runs; true once every released
  // one reported an output.
  bool check_all() {
    outputs_.clear();
    open_.clear();
    auto command = "check 0 " + std::to_string(released_);
    for (auto i : nodes_->up())
      for (auto& line : ask((*nodes_)[i], command, "checked")) {
        std::istringstream in{line};
        std::string word, id, out;
        in >> word >> id >> out;
        if (word == "out")
          outputs_[id].insert(out);
        else
          open_.push_back(line);
      }
    return static_cast<int>(outputs_.size()) == released_;
  }

  // SIGKILL, or (clean) a clean stop: engine_host::stop, whose watchers
  // take its partitions over at once. Then a restart.
  void kill(std::size_t i, bool clean = false) {
    auto& n = (*nodes_)[i];
    auto t0 = clock_type::now();
    clean ? nodes_->begin_stop(i) : n.proc->kill();
    n.alive = false;
    auto k = clean ? ++s_.quits : ++s_.kills;
    until([&] { return all_running(); }, "failover from node " + n.id);
    auto took = std::chrono::duration<double>(clock_type::now() - t0);
    if (clean)
      nodes_->end_stop(i); // its "bye": engine_host::stop returned
    std::chrono::duration<double> gone = clock_type::now() - t0;
    std::printf("%s %d: node %s, partitions running again after %.2f s "
                "(gone after %.2f s)\n", clean ? "quit" : "kill", k,
                n.id.c_str(), took.count(), gone.count());
    std::fflush(stdout);
    // The latest ids through a survivor, while the group has not settled
    // yet (its rebalance may move partitions again meanwhile).
    ask_forwarded(std::max(0, released_ - 20), released_);
    nodes_->start(i);
  }

  // SIGSTOP until every partition runs on the others, then SIGCONT: it
  // comes back as a zombie (its engines run on until it reads the new
  // claims) and stays a member.
  void pause(std::size_t i) {
    auto& n = (*nodes_)[i];
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
    ++s_.pauses;
    ask(n, "running", "running"); // it runs again
    std::printf("pause %d: node %s, partitions running elsewhere after "
                "%.2f s\n",
                s_.pauses, n.id.c_str(), took.count());
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
    ++s_.broker_stops;
    // Steps run fast: what was released before may all have run.
    progress(extra_, 10,
             "steps run while broker " + std::to_string(b) + " is down");
    auto took = std::chrono::duration<double>(clock_type::now() - t0);
    mock("broker up " + std::to_string(b));
    std::printf("broker %d: broker %d down, steps ran on after %.2f s\n",
                s_.broker_stops, b, took.count());
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
    ++s_.leader_moves;
    progress(extra_, 10,
             "steps run after partition " + std::to_string(p)
               + "'s leader moved");
    auto took = std::chrono::duration<double>(clock_type::now() - t0);
    std::printf("leader %d: partition %d to broker %d, steps ran on after "
                "%.2f s\n",
                s_.leader_moves, p, to, took.count());
    std::fflush(stdout);
  }

  // A node joins: the group gives it partitions, which it claims.
  void add_node() {
    auto t0 = clock_type::now();
    auto i = nodes_->add();
    nodes_->start(i);
    until([&] { return !nodes_->running()[i].empty() && all_running(); },
          "node " + (*nodes_)[i].id + " joined and runs a partition");
    auto took = std::chrono::duration<double>(clock_type::now() - t0);
    std::printf("grow: node %s added, runs partitions after %.2f s\n",
                (*nodes_)[i].id.c_str(), took.count());
    std::fflush(stdout);
  }

  void until(const std::function<bool()>& done, const std::string& what,
             std::chrono::seconds limit = 180s) {
    auto end = clock_type::now() + limit;
    while (!done()) {
      if (clock_type::now() > end) {
        for (std::size_t k = 0; k < open_.size() && k < 40; ++k)
          std::printf("not succeeded: %s\n", open_[k].c_str());
        throw std::runtime_error{"no progress: " + what};
      }
      std::this_thread::sleep_for(50ms); // a poll interval, not a wait
    }
  }

  // -- the effects --------------------------------------------------------
  std::size_t effect_lines() const {
    return test::count_lines(effects_);
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
        s_.forward_started += static_cast<std::size_t>(started);
      else if (word == "err" && ++s_.forward_start_errors <= 5)
        std::printf("a start through node %s failed: %s\n", n.id.c_str(),
                    line.c_str());
    }
  }

  test::node_slot& random_up() {
    auto up = nodes_->up();
    return (*nodes_)[up[rng_.below(up.size())]];
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
        ++s_.forward_errors;
    }
  }

  // -- the actors ---------------------------------------------------------
  // Sends the next round of actor calls to a random node, without waiting
  // for its answer: the calls are in flight while the fault strikes. The
  // node's slot and process generation, or -1 without actors.
  std::pair<int, int> begin_calls() {
    if (c_.actors == 0)
      return {-1, 0};
    auto& n = random_up();
    if (!n.proc->send_line(book_.next_round()))
      throw std::runtime_error{"node " + n.id + " gone"};
    return {static_cast<int>(&n - nodes_->slots().data()), n.generation};
  }

  // Reads the round's answers from the node it was sent to, unless that
  // node was killed meanwhile (restarted: its answers are lost), then
  // calls the actors that did not acknowledge it again, by the same keys,
  // through random nodes.
  void finish_calls(std::pair<int, int> caller) {
    if (caller.first < 0)
      return;
    auto& n = (*nodes_)[static_cast<std::size_t>(caller.first)];
    if (n.alive && n.generation == caller.second) {
      auto lines = std::move(n.actor_lines);
      n.actor_lines.clear();
      if (std::find(lines.begin(), lines.end(), "acalled") == lines.end())
        for (auto& l : nodes_->answer(n, "acall", "acalled"))
          lines.push_back(l);
      book_.take(lines);
    }
    until([&] {
      if (book_.round_done())
        return true;
      book_.take(ask(random_up(), book_.retry_command(), "acalled"));
      return book_.round_done();
    }, "actor round " + std::to_string(book_.round()) + " acknowledged");
  }

  void verify() {
    auto v = test::verify_effects(effects_, c_.workflows, outputs_,
                                  forwarded_);
    s_.executions = v.executions;
    s_.reruns = v.reruns;
    s_.zombie_runs = v.zombie_runs;
    auto add = [&](const std::vector<std::string>& found) {
      s_.violations.insert(s_.violations.end(), found.begin(), found.end());
    };
    add(v.violations);
    if (c_.actors > 0)
      book_.verify(ask(random_up(), book_.get_command(), "agot"));
    add(book_.violations);
    if (feed_) {
      feed_->verify(ask(random_up(), feed_->get_command(), "agot"));
      add(feed_->violations);
      s_.feed_records = feed_->produced();
    }
  }

  int report() {
    for (auto& n : nodes_->slots())
      if (n.alive)
        ask(n, "quit", "bye");
    s_.nodes = nodes_->size();
    s_.forward_answered = forwarded_.size();
    s_.actor_rounds = book_.round();
    s_.actor_calls = book_.calls;
    s_.actor_retries = book_.retries;
    s_.actor_errors = book_.errors;
    for (auto& e : book_.first_errors)
      std::printf("an actor call failed (tried again): %s\n", e.c_str());
    return test::report_engine_torture(c_, s_);
  }

  test::engine_torture_config c_;
  test::splitmix64 rng_;
  test::temp_dir dir_;
  std::string app_ = "etorture";
  std::filesystem::path effects_ = dir_ / "effects";
  std::unique_ptr<test::kafka_mock_process> mock_;
  std::unique_ptr<test::engine_nodes> nodes_;
  int released_ = 0;
  // Workflows progress() releases after a broker or leader fault (run()
  // keeps them out of the slices).
  static constexpr int extra_ = 5;
  std::map<std::string, std::set<std::string>> outputs_;
  std::vector<std::string> open_; // check_all's other lines (a report)
  // Outputs read through random nodes (ask_forwarded), and the errors.
  std::map<std::string, std::set<std::string>> forwarded_;
  test::actor_round_book book_;
  // Kafka records fed into actors b-0..b-7 (with --records).
  std::string feed_topic_ = app_ + ".in";
  std::unique_ptr<test::feed_book> feed_;
  test::engine_torture_summary s_;
};

} // namespace

int main(int argc, char** argv) {
  test::engine_torture_config c;
  try {
    c = test::parse_engine_torture(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "perdure-cluster-engine-torture: %s\n", e.what());
    return 2;
  }
  return test::run_again_if_mock_aborts<driver>(
    "perdure-cluster-engine-torture", c);
}
