// SPDX-License-Identifier: Apache-2.0
#include "piped_process.hpp"

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace perdure::test {

piped_process::piped_process(const std::vector<std::string>& args) {
  std::signal(SIGPIPE, SIG_IGN); // a dead child must not kill the driver
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    throw std::runtime_error{"pipe failed"};
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    throw std::runtime_error{"pipe failed"};
  }
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  in_fd_ = in[1];
  out_fd_ = out[0];
  if (pid_ < 0)
    throw std::runtime_error{"fork failed"};
  fcntl(out_fd_, F_SETFL, fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
}

piped_process::~piped_process() {
  kill();
  if (in_fd_ >= 0)
    close(in_fd_);
  if (out_fd_ >= 0)
    close(out_fd_);
}

bool piped_process::send(const std::string& line) {
  auto text = line + "\n";
  return write(in_fd_, text.data(), text.size())
         == static_cast<ssize_t>(text.size());
}

std::vector<std::string> piped_process::take_lines() {
  char buf[4096];
  for (;;) {
    auto n = read(out_fd_, buf, sizeof buf);
    if (n <= 0)
      break;
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
  std::vector<std::string> lines;
  for (auto nl = buffer_.find('\n'); nl != std::string::npos;
       nl = buffer_.find('\n')) {
    lines.push_back(buffer_.substr(0, nl));
    buffer_.erase(0, nl + 1);
  }
  return lines;
}

void piped_process::signal(int sig) {
  if (!reaped_)
    ::kill(pid_, sig);
}

bool piped_process::stopped() const {
  std::ifstream in{"/proc/" + std::to_string(pid_) + "/stat"};
  std::string stat;
  std::getline(in, stat);
  // pid (comm) STATE ...: the state follows the last ')'.
  auto close_paren = stat.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < stat.size()
         && (stat[close_paren + 2] == 'T' || stat[close_paren + 2] == 't');
}

void piped_process::kill() {
  if (reaped_ || pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  waitpid(pid_, &st, 0);
  reaped_ = true;
}

int piped_process::wait(std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int st = 0;
    auto r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    }
    if (r < 0 || std::chrono::steady_clock::now() > end)
      return -1000;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

} // namespace perdure::test
