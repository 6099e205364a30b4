// SPDX-License-Identifier: Apache-2.0
#pragma once

// Crash tests run real child processes: the test binary re-executes itself
// with "--child NAME args..." and the child runs the entry registered under
// NAME. The parent can wait for it or kill it with SIGKILL.

#include "subprocess.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace perdure::test {

using child_entry = std::function<int(const std::vector<std::string>&)>;

/// Registers `fn` as child entry `name` (use at namespace scope through a
/// static bool, or PERDURE_CHILD_ENTRY).
bool register_child(const std::string& name, child_entry fn);

/// Runs the entry named by argv[0]; called by the test main.
int run_child(int argc, char** argv);

/// A running child process.
class child_process {
 public:
  /// Starts this test binary as child `name` with `args`; its stdout goes to
  /// a pipe read by read_line().
  child_process(const std::string& name, const std::vector<std::string>& args);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The next line the child printed, or an empty string at end of output or
  /// after `timeout`.
  std::string read_line(std::chrono::milliseconds timeout = std::chrono::seconds{20});
  /// Reads lines until one equals `line`: true then, false at the end of
  /// the output or when a read waited `timeout`.
  bool read_until(const std::string& line,
                  std::chrono::milliseconds timeout = std::chrono::seconds{20});

  /// Sends SIGKILL and reaps the child.
  void kill();

  /// Waits for a normal exit and returns the exit code (-signal when killed).
  int wait();

  int pid() const noexcept {
    return pid_;
  }

 private:
  std::unique_ptr<subprocess> proc_;
  int pid_ = -1;
};

/// In a child entry (or a step body it runs): blocks until the test kills
/// this process, which it does on observed progress. The process also
/// dies with the test (PR_SET_PDEATHSIG), so a failing test leaves no
/// child behind. No time limit: nothing waits for a time.
[[noreturn]] void hold_until_killed();

} // namespace perdure::test

#define PERDURE_CHILD_CAT2(a, b) a##b
#define PERDURE_CHILD_CAT(a, b) PERDURE_CHILD_CAT2(a, b)
/// Defines a child entry: PERDURE_CHILD_ENTRY("name") { ...args...; return 0; }
#define PERDURE_CHILD_ENTRY(name)                                              \
  static int PERDURE_CHILD_CAT(perdure_child_fn_, __LINE__)(                   \
    const std::vector<std::string>& args);                                     \
  static const bool PERDURE_CHILD_CAT(perdure_child_reg_, __LINE__) =          \
    ::perdure::test::register_child(name,                                      \
                                    PERDURE_CHILD_CAT(perdure_child_fn_,       \
                                                      __LINE__));              \
  static int PERDURE_CHILD_CAT(perdure_child_fn_, __LINE__)(                   \
    [[maybe_unused]] const std::vector<std::string>& args)
