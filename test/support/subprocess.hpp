// SPDX-License-Identifier: Apache-2.0
#pragma once

// A program run as a child process, for tests that crash, pause, drive or
// read real processes: the crash tests' re-executed test binary
// (child_process), the CLI (cli_process), perdure-mock-kafka and the
// cluster's node processes. One owner of fork/exec, pipes and reaping.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::test {

/// How a subprocess's standard streams and environment are set up.
struct subprocess_options {
  bool pipe_stdin = false;  ///< a pipe written by send_line; else /dev/null
  std::string stdout_file = {};  ///< empty: a pipe read by read_line/take_lines
  std::string stderr_file = {};  ///< empty: inherited from the test
  /// "KEY=VALUE" entries; nullopt: the test's own environment.
  std::optional<std::vector<std::string>> env = std::nullopt;
};

/// A running program. The destructor SIGKILLs (after SIGCONT) a child that
/// was not reaped yet, reaps it and closes the pipes.
class subprocess {
 public:
  /// Starts argv[0] (a path) with `argv`; throws std::runtime_error when
  /// it cannot (a failed exec exits the child with 127).
  explicit subprocess(const std::vector<std::string>& argv,
                      subprocess_options o = {});
  ~subprocess();
  subprocess(const subprocess&) = delete;
  subprocess& operator=(const subprocess&) = delete;

  int pid() const noexcept {
    return pid_;
  }
  /// The read end of the child's stdout pipe (for poll()); -1 when stdout
  /// goes to a file.
  int out_fd() const noexcept {
    return out_fd_;
  }

  /// Writes `line` and a newline to the child's stdin pipe; false when it
  /// cannot (no pipe, or the child closed it). Never raises SIGPIPE.
  bool send_line(std::string_view line);

  /// The next line of stdout (without its newline); "" at end of output
  /// or when none is complete by `timeout`.
  std::string read_line(std::chrono::milliseconds timeout);

  /// The complete lines printed since the last call, without waiting.
  std::vector<std::string> take_lines();

  /// Sends `sig` (SIGSTOP, SIGCONT, SIGINT...) unless reaped.
  void signal(int sig);

  /// True when the kernel shows the child stopped (after SIGSTOP).
  bool stopped() const;

  /// SIGKILLs (after SIGCONT, so a stopped child dies too) and reaps.
  void kill();

  /// Waits for the exit: its code, or -signal when a signal ended it.
  int wait();

  /// As wait(), giving up after `limit` (nullopt: still running).
  std::optional<int> wait_for(std::chrono::milliseconds limit);

  /// False once the child was reaped.
  bool running() const noexcept {
    return !reaped_;
  }

 private:
  int fill(int timeout_ms);

  int pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  int code_ = 0;
  std::string buffer_;
};

} // namespace perdure::test
