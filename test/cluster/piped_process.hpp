// SPDX-License-Identifier: Apache-2.0
#pragma once

// A program run as a child process with its stdin and stdout on pipes
// (stderr inherited): the cluster torture's node processes.

#include <chrono>
#include <string>
#include <vector>

namespace perdure::test {

class piped_process {
 public:
  /// Starts argv[0] with `argv`; throws std::runtime_error when it cannot.
  explicit piped_process(const std::vector<std::string>& argv);
  /// SIGKILLs (and SIGCONTs) a child still running, and reaps it.
  ~piped_process();
  piped_process(const piped_process&) = delete;
  piped_process& operator=(const piped_process&) = delete;

  int pid() const noexcept {
    return pid_;
  }
  /// The read end of the child's stdout (for poll()).
  int out_fd() const noexcept {
    return out_fd_;
  }

  /// Writes one line to the child's stdin; false when it cannot.
  bool send(const std::string& line);

  /// Reads what the child printed so far, without waiting, and returns
  /// the complete lines.
  std::vector<std::string> take_lines();

  /// Sends `sig` (SIGSTOP, SIGCONT).
  void signal(int sig);

  /// True once the kernel shows the child stopped (after SIGSTOP).
  bool stopped() const;

  /// SIGKILLs and reaps the child.
  void kill();

  /// Waits up to `limit` for the child to exit; its exit code, -signal
  /// when a signal ended it, or -1000 when it did not end in time.
  int wait(std::chrono::milliseconds limit);

 private:
  int pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  std::string buffer_;
};

} // namespace perdure::test
