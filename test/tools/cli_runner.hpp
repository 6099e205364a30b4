// SPDX-License-Identifier: Apache-2.0
#pragma once

// Runs the built `perdure` binary as a real subprocess and captures its exit
// code, stdout and stderr.

#include "subprocess.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace perdure::test {

/// What one run of the CLI produced.
struct cli_result {
  int code = -1;   ///< exit code, or -signal when killed
  std::string out; ///< stdout
  std::string err; ///< stderr
};

/// A CLI run in the background (for --follow); stdout and stderr go to
/// files read back by wait().
class cli_process {
 public:
  /// Starts `perdure args...` with `env` added to (or overriding) the
  /// environment; PERDURE_STORAGE and NO_COLOR are cleared unless `env`
  /// sets them.
  explicit cli_process(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env = {});
  /// As above, running `program` instead of `perdure`.
  cli_process(std::string program, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env);
  ~cli_process();
  cli_process(const cli_process&) = delete;
  cli_process& operator=(const cli_process&) = delete;

  /// Sends `sig` (e.g. SIGINT) to the process.
  void signal(int sig);

  /// What the process printed on stdout so far.
  std::string peek_out() const;

  /// Polls stdout until it contains `text`; false after `seconds`.
  bool wait_for_out(const std::string& text, double seconds = 20) const;

  /// Waits for the exit and returns what it printed.
  cli_result wait();

 private:
  std::string out_path_;
  std::string err_path_;
  std::unique_ptr<subprocess> proc_;
};

/// Runs `program args...` to completion (environment as cli_process).
cli_result run_program(const std::string& program,
                       const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env = {});

/// The path of the built `perdure` binary.
std::string perdure_cli_path();

/// Runs `perdure args...` to completion.
cli_result run_perdure(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env = {});

} // namespace perdure::test
