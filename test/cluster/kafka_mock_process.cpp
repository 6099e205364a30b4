// SPDX-License-Identifier: Apache-2.0
#include "kafka_mock_process.hpp"

#include <csignal>
#include <stdexcept>

namespace perdure::test {

namespace {

std::vector<std::string> mock_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{PERDURE_MOCK_KAFKA};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

} // namespace

kafka_mock_process::kafka_mock_process(const std::vector<std::string>& args)
  : proc_(mock_argv(args), {.pipe_stdin = true}) {
  auto line = proc_.read_line(std::chrono::seconds{30});
  if (line.rfind("bootstrap: ", 0) != 0)
    throw std::runtime_error{"perdure-mock-kafka printed '" + line + "'"};
  bootstrap_ = line.substr(11);
}

std::string kafka_mock_process::command(const std::string& line,
                                        std::chrono::milliseconds timeout) {
  if (!proc_.send_line(line))
    return "";
  return proc_.read_line(timeout);
}

bool kafka_mock_process::aborted() {
  auto code = proc_.wait_for(std::chrono::milliseconds{0});
  return code && *code == -SIGABRT;
}

} // namespace perdure::test
