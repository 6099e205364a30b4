// SPDX-License-Identifier: Apache-2.0
#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <stdexcept>

namespace perdure::test {

namespace {

std::map<std::string, child_entry>& registry() {
  static std::map<std::string, child_entry> entries;
  return entries;
}

} // namespace

bool register_child(const std::string& name, child_entry fn) {
  registry()[name] = std::move(fn);
  return true;
}

int run_child(int argc, char** argv) {
  if (argc < 1) {
    std::fprintf(stderr, "--child needs an entry name\n");
    return 2;
  }
  auto it = registry().find(argv[0]);
  if (it == registry().end()) {
    std::fprintf(stderr, "unknown child entry '%s'\n", argv[0]);
    return 2;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  // Lines must reach the parent as soon as they are printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return it->second(args);
}

child_process::child_process(const std::string& name,
                             const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<std::string> all{"/proc/self/exe", "--child", name};
  all.insert(all.end(), args.begin(), args.end());
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& a : all)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  out_fd_ = fds[0];
}

child_process::~child_process() {
  if (!reaped_)
    kill();
  if (out_fd_ >= 0)
    ::close(out_fd_);
}

std::string child_process::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return {};
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return {};
    char buf[4096];
    auto n = ::read(out_fd_, buf, sizeof(buf));
    if (n <= 0)
      return {};
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

void child_process::kill() {
  if (reaped_)
    return;
  ::kill(pid_, SIGKILL);
  wait();
}

int child_process::wait() {
  if (reaped_)
    return code_;
  int st = 0;
  ::waitpid(pid_, &st, 0);
  reaped_ = true;
  code_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  return code_;
}

} // namespace perdure::test
