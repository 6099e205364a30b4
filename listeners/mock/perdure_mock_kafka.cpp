// SPDX-License-Identifier: Apache-2.0
// perdure-mock-kafka: librdkafka's mock cluster as a standalone process, for
// tests whose consumer process is killed and restarted while the broker
// keeps its data. Prints "bootstrap: HOST:PORT" and runs until killed or
// sent SIGINT/SIGTERM; meanwhile it obeys commands on stdin (see usage).

#include "perdure/listeners/kafka.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

constexpr const char* usage_text =
    "usage: perdure-mock-kafka [--brokers N] [--topic NAME:PARTITIONS]...\n"
    "\n"
    "Runs librdkafka's mock cluster with N brokers (ids 1..N) on 127.0.0.1,\n"
    "prints \"bootstrap: HOST:PORT,...\" and runs until SIGINT/SIGTERM.\n"
    "--topic creates a topic with one replica per partition.\n"
    "\n"
    "Commands on stdin, one a line, each answered \"ok\" or \"error: ...\":\n"
    "  broker down ID        close broker ID's connections, refuse new ones\n"
    "                        (its partitions keep it as leader)\n"
    "  broker up ID          let broker ID accept connections again\n"
    "  leader TOPIC P ID     make broker ID the leader of partition P\n"
    "  rtt ID MS             delay broker ID's responses by MS ms\n"
    "  topic NAME P [R]      create topic NAME with P partitions and R\n"
    "                        replicas each (default: min(3, N))\n"
    "  ping                  answer ok (to synchronise)\n"
    "End of input leaves the cluster running.\n";

// A non-negative integer, or -1.
long number(const std::string& s) {
  if (s.empty() || s.size() > 9)
    return -1;
  for (char c : s)
    if (c < '0' || c > '9')
      return -1;
  return std::atol(s.c_str());
}

std::string run(perdure::kafka_mock_cluster& cluster, int brokers,
                const std::string& line) {
  std::istringstream in{line};
  std::vector<std::string> w;
  for (std::string word; in >> word;)
    w.push_back(word);
  auto answer = [](const perdure::status& st) {
    return st ? std::string{"ok"} : "error: " + st.to_string();
  };
  if (w.size() == 1 && w[0] == "ping")
    return "ok";
  if (w.size() == 3 && w[0] == "broker" && (w[1] == "down" || w[1] == "up")) {
    auto id = number(w[2]);
    if (id < 1 || id > brokers)
      return "error: no broker '" + w[2] + "' (brokers are 1.."
             + std::to_string(brokers) + ")";
    return answer(cluster.set_broker_up(static_cast<int>(id), w[1] == "up"));
  }
  if (w.size() == 4 && w[0] == "leader") {
    auto p = number(w[2]), id = number(w[3]);
    if (p < 0 || id < 1 || id > brokers)
      return "error: leader wants TOPIC PARTITION BROKER (brokers 1.."
             + std::to_string(brokers) + ")";
    return answer(cluster.set_partition_leader(w[1], static_cast<int>(p),
                                               static_cast<int>(id)));
  }
  if (w.size() == 3 && w[0] == "rtt") {
    auto id = number(w[1]), ms = number(w[2]);
    if (id < 1 || id > brokers || ms < 0)
      return "error: rtt wants BROKER MILLISECONDS";
    return answer(cluster.set_broker_rtt(static_cast<int>(id),
                                         static_cast<int>(ms)));
  }
  if ((w.size() == 3 || w.size() == 4) && w[0] == "topic") {
    auto p = number(w[2]);
    auto r = w.size() == 4 ? number(w[3]) : std::min(3L, long{brokers});
    if (p < 1 || r < 1 || r > brokers)
      return "error: topic wants NAME PARTITIONS [REPLICAS], replicas 1.."
             + std::to_string(brokers);
    return answer(cluster.create_topic(w[1], static_cast<int>(p),
                                       static_cast<int>(r)));
  }
  return "error: unknown command '" + line
         + "' (broker down|up ID, leader TOPIC P ID, rtt ID MS, "
           "topic NAME P [R], ping)";
}

} // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
    } else if (a == "--topic" && i + 1 < argc) {
      std::string t = argv[++i];
      auto colon = t.rfind(':');
      int parts = colon == std::string::npos ? 1 : std::atoi(t.c_str() + colon + 1);
      topics.emplace_back(t.substr(0, colon), parts > 0 ? parts : 1);
    } else {
      std::fputs(usage_text, stderr);
      return 2;
    }
  }
  if (brokers < 1) {
    std::fputs(usage_text, stderr);
    return 2;
  }
  try {
    // Signals are blocked before any thread starts, so only sigwait sees
    // them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    perdure::kafka_mock_cluster cluster{brokers};
    for (auto& [name, parts] : topics)
      if (auto st = cluster.create_topic(name, parts); !st) {
        std::fprintf(stderr, "perdure-mock-kafka: %s\n",
                     st.to_string().c_str());
        return 1;
      }
    std::printf("bootstrap: %s\n", cluster.bootstrap().c_str());
    std::fflush(stdout);
    // Commands run under `busy`, which main takes before the cluster goes:
    // a command never races the cluster's destruction (the mutex outlives
    // main's scope, still held, with the detached thread).
    static std::mutex busy;
    std::thread control{[&cluster, brokers] {
      for (std::string line; std::getline(std::cin, line);) {
        if (line.find_first_not_of(" \t\r") == std::string::npos)
          continue;
        std::lock_guard guard{busy};
        auto reply = run(cluster, brokers, line);
        std::printf("%s\n", reply.c_str());
        std::fflush(stdout);
      }
    }};
    control.detach();
    int sig = 0;
    sigwait(&set, &sig);
    busy.lock(); // held until exit: no command starts any more
  } catch (const std::exception& e) {
    std::fprintf(stderr, "perdure-mock-kafka: %s\n", e.what());
    return 1;
  }
  return 0;
}
