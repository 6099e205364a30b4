// SPDX-License-Identifier: Apache-2.0
// perdure-mock-kafka: librdkafka's mock cluster as a standalone process, for
// tests whose consumer process is killed and restarted while the broker
// keeps its data. Prints "bootstrap: HOST:PORT" and runs until killed.
//
//   perdure-mock-kafka [--brokers N] [--topic NAME:PARTITIONS]...

#include "perdure/listeners/kafka.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

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
      std::fprintf(stderr,
                   "usage: perdure-mock-kafka [--brokers N] "
                   "[--topic NAME:PARTITIONS]...\n");
      return 2;
    }
  }
  try {
    perdure::kafka_mock_cluster cluster{brokers};
    for (auto& [name, parts] : topics)
      if (auto st = cluster.create_topic(name, parts); !st) {
        std::fprintf(stderr, "perdure-mock-kafka: %s\n",
                     st.to_string().c_str());
        return 1;
      }
    std::printf("bootstrap: %s\n", cluster.bootstrap().c_str());
    std::fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int sig = 0;
    sigwait(&set, &sig);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "perdure-mock-kafka: %s\n", e.what());
    return 1;
  }
  return 0;
}
