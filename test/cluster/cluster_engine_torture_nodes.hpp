// SPDX-License-Identifier: Apache-2.0
#pragma once

// perdure-cluster-engine-torture's node processes
// (perdure-cluster-engine-node, driven on stdin): their slots, the
// commands and answers, and which partitions each runs.

#include "subprocess.hpp"

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace perdure::test {

struct node_slot {
  std::string id;
  std::filesystem::path dir;
  std::unique_ptr<subprocess> proc;
  bool alive = false;
  bool paused = false; // SIGSTOPped: not asked anything
  int generation = 0;  // processes started in this slot
  // Answers of an actor round ("aok", "aerr", "acalled") read while
  // waiting for another command's (the node answers both meanwhile).
  std::vector<std::string> actor_lines;
};

/// What every node process is started with.
struct node_launch {
  std::string program; ///< perdure-cluster-engine-node
  std::string brokers;
  std::string app;
  std::filesystem::path dir;     ///< each node's store: dir / its id
  std::filesystem::path effects; ///< the shared effects file
  int session_ms = 3000;
  std::string feed_topic = {}; ///< each node's --feed (empty: none)
  int standbys = -1; ///< each node's --standbys (-1: every node tails all)
};

class engine_nodes {
 public:
  explicit engine_nodes(node_launch launch);

  /// A new slot "eN" (not started); its index.
  std::size_t add();
  /// Starts slot i's process (once a cleanly stopped one exited) and
  /// waits until it is ready.
  void start(std::size_t i);

  std::size_t size() const noexcept {
    return slots_.size();
  }
  node_slot& operator[](std::size_t i) {
    return slots_[i];
  }
  std::vector<node_slot>& slots() noexcept {
    return slots_;
  }
  /// Asks slot i's process to stop cleanly ("quit": engine_host::stop)
  /// and counts it down (not asked anything more); end_stop() reads its
  /// "bye", after which it exits by itself (start() waits for that).
  /// Throws when it cannot be asked, or does not answer.
  void begin_stop(std::size_t i);
  void end_stop(std::size_t i);
  /// Whether the nodes that are up run engines for all `partitions`.
  bool all_running(int partitions);
  /// The indexes of the nodes neither killed nor paused.
  std::vector<std::size_t> up() const;

  /// Sends `command` and returns the answer's lines up to the one starting
  /// with `last` (included). Throws when the node is gone or silent.
  std::vector<std::string> ask(node_slot& n, const std::string& command,
                               const std::string& last);
  /// Reads `command`'s answer (see ask); a pending actor round's answers
  /// go to n.actor_lines unless `last` is "acalled".
  std::vector<std::string> answer(node_slot& n, const std::string& command,
                                  const std::string& last);
  /// The partitions each node that is up runs an engine for.
  std::vector<std::set<int>> running();

 private:
  node_launch launch_;
  std::vector<node_slot> slots_;
};

} // namespace perdure::test
