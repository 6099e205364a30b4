// SPDX-License-Identifier: Apache-2.0
#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace perdure::test {

namespace {

int open_or_exit(const char* path, int flags) {
  int fd = ::open(path, flags | O_CLOEXEC, 0600);
  if (fd < 0)
    ::_exit(126);
  return fd;
}

int decode(int st) {
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

} // namespace

subprocess::subprocess(const std::vector<std::string>& argv,
                       subprocess_options o) {
  if (argv.empty())
    throw std::runtime_error{"subprocess: no program"};
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  if (o.pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0)
    throw std::runtime_error{"subprocess: pipe failed"};
  if (o.stdout_file.empty() && ::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error{"subprocess: pipe failed"};
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args)
    cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> envs = o.env.value_or(std::vector<std::string>{});
  std::vector<char*> cenv;
  for (auto& e : envs)
    cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error{"subprocess: fork failed"};
  if (pid_ == 0) {
    int fd_in = o.pipe_stdin ? in[0] : open_or_exit("/dev/null", O_RDONLY);
    int fd_out = o.stdout_file.empty()
                   ? out[1]
                   : open_or_exit(o.stdout_file.c_str(),
                                  O_WRONLY | O_CREAT | O_TRUNC);
    ::dup2(fd_in, STDIN_FILENO);
    ::dup2(fd_out, STDOUT_FILENO);
    if (!o.stderr_file.empty())
      ::dup2(open_or_exit(o.stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC),
             STDERR_FILENO);
    // Signals the test ignores (SIGPIPE) must not stay ignored.
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(cargv[0], cargv.data(), o.env ? cenv.data() : environ);
    ::_exit(127);
  }
  if (o.pipe_stdin) {
    ::close(in[0]);
    in_fd_ = in[1];
  }
  if (o.stdout_file.empty()) {
    ::close(out[1]);
    out_fd_ = out[0];
  }
}

subprocess::~subprocess() {
  kill();
  if (in_fd_ >= 0)
    ::close(in_fd_);
  if (out_fd_ >= 0)
    ::close(out_fd_);
}

bool subprocess::send_line(std::string_view line) {
  if (in_fd_ < 0)
    return false;
  std::string text{line};
  text += '\n';
  std::size_t done = 0;
  while (done < text.size()) {
    // MSG_NOSIGNAL is for sockets; a pipe raises SIGPIPE, so block it
    // for this thread while writing.
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    auto n = ::write(in_fd_, text.data() + done, text.size() - done);
    int err = errno;
    if (n < 0 && err == EPIPE) {
      timespec zero{0, 0};
      sigtimedwait(&pipe_set, nullptr, &zero); // drop the pending SIGPIPE
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (n < 0 && err == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads what is there within `timeout_ms` (0: without waiting): 1 when
// something came, 0 when nothing did (or poll was interrupted), -1 at end
// of output or on an error.
int subprocess::fill(int timeout_ms) {
  if (out_fd_ < 0)
    return -1;
  pollfd p{out_fd_, POLLIN, 0};
  int r = ::poll(&p, 1, timeout_ms);
  if (r == 0 || (r < 0 && errno == EINTR))
    return 0;
  if (r < 0)
    return -1;
  char buf[4096];
  auto n = ::read(out_fd_, buf, sizeof buf);
  if (n < 0 && errno == EINTR)
    return 0;
  if (n <= 0)
    return -1;
  buffer_.append(buf, static_cast<std::size_t>(n));
  return 1;
}

std::string subprocess::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fill(static_cast<int>(left.count())) < 0)
      return {};
  }
}

std::vector<std::string> subprocess::take_lines() {
  while (fill(0) > 0) {
  }
  std::vector<std::string> lines;
  for (auto nl = buffer_.find('\n'); nl != std::string::npos;
       nl = buffer_.find('\n')) {
    lines.push_back(buffer_.substr(0, nl));
    buffer_.erase(0, nl + 1);
  }
  return lines;
}

void subprocess::signal(int sig) {
  if (!reaped_)
    ::kill(pid_, sig);
}

bool subprocess::stopped() const {
  if (reaped_)
    return false;
  std::ifstream in{"/proc/" + std::to_string(pid_) + "/stat"};
  std::string line;
  std::getline(in, line);
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size()
         && (line[paren + 2] == 'T' || line[paren + 2] == 't');
}

void subprocess::kill() {
  if (reaped_ || pid_ <= 0)
    return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  wait();
}

int subprocess::wait() {
  if (reaped_)
    return code_;
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  code_ = decode(st);
  return code_;
}

std::optional<int> subprocess::wait_for(std::chrono::milliseconds limit) {
  if (reaped_)
    return code_;
  auto deadline = std::chrono::steady_clock::now() + limit;
  // A pidfd turns readable when the child exits: no polling interval.
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  for (;;) {
    int st = 0;
    auto r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      code_ = decode(st);
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    if (pfd >= 0) {
      pollfd p{pfd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    } else { // no pidfd (an old kernel): look again shortly
      std::this_thread::sleep_for(
        std::min(left, std::chrono::milliseconds{5}));
    }
  }
  if (pfd >= 0)
    ::close(pfd);
  if (!reaped_)
    return std::nullopt;
  return code_;
}

} // namespace perdure::test
