// SPDX-License-Identifier: Apache-2.0
#include "kafka_mock_process.hpp"

#include <csignal>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace perdure::test {

kafka_mock_process::kafka_mock_process(const std::vector<std::string>& args) {
  std::signal(SIGPIPE, SIG_IGN); // a dead child must not kill the test
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0)
    throw std::runtime_error{"pipe failed"};
  std::vector<std::string> argv_s{PERDURE_MOCK_KAFKA};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  in_fd_ = in[1];
  out_fd_ = out[0];
  auto line = read_line(std::chrono::seconds{30});
  if (line.rfind("bootstrap: ", 0) != 0)
    throw std::runtime_error{"perdure-mock-kafka printed '" + line + "'"};
  bootstrap_ = line.substr(11);
}

kafka_mock_process::~kafka_mock_process() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  if (in_fd_ >= 0)
    close(in_fd_);
  if (out_fd_ >= 0)
    close(out_fd_);
}

std::string kafka_mock_process::read_line(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return "";
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue;
    char buf[512];
    auto n = read(out_fd_, buf, sizeof buf);
    if (n <= 0)
      return "";
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string kafka_mock_process::command(const std::string& line,
                                        std::chrono::milliseconds timeout) {
  auto text = line + "\n";
  if (write(in_fd_, text.data(), text.size())
      != static_cast<ssize_t>(text.size()))
    return "";
  return read_line(timeout);
}

} // namespace perdure::test
