// SPDX-License-Identifier: Apache-2.0
#pragma once

// perdure-mock-kafka as a child process whose control channel (stdin) the
// test drives: stop and start brokers, move partition leaders.

#include "subprocess.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace perdure::test {

class kafka_mock_process {
 public:
  /// Starts perdure-mock-kafka with `args` and reads its bootstrap line;
  /// throws std::runtime_error when it does not come.
  explicit kafka_mock_process(const std::vector<std::string>& args);
  /// SIGKILLs and reaps the process.
  ~kafka_mock_process() = default;
  kafka_mock_process(const kafka_mock_process&) = delete;
  kafka_mock_process& operator=(const kafka_mock_process&) = delete;

  /// The process id (for its CPU time in /proc).
  int pid() const noexcept {
    return proc_.pid();
  }
  /// "127.0.0.1:PORT,...".
  const std::string& bootstrap() const noexcept {
    return bootstrap_;
  }
  /// Sends one command line and returns the answer line ("ok",
  /// "error: ..."), or "" when none came within `timeout`.
  std::string command(const std::string& line,
                      std::chrono::milliseconds timeout =
                          std::chrono::seconds{20});

  /// True when the mock process ended by SIGABRT: one of librdkafka's
  /// rdkafka_mock assertions failed (it printed which on stderr), a
  /// defect of the mock (docs/cluster.md, "What the mock cannot show"),
  /// after which no broker answers.
  bool aborted();

 private:
  subprocess proc_;
  std::string bootstrap_;
};

} // namespace perdure::test
