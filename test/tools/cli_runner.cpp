// SPDX-License-Identifier: Apache-2.0
#include "cli_runner.hpp"

#include <chrono>
#include <thread>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

extern char** environ;

namespace perdure::test {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string temp_file() {
  char path[] = "/tmp/perdure-cli-test-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0)
    throw std::runtime_error("mkstemp failed");
  ::close(fd);
  return path;
}

} // namespace

cli_process::cli_process(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env)
  : cli_process(PERDURE_CLI_PATH, args, env) {
}

cli_process::cli_process(std::string program,
                         const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env)
  : out_path_(temp_file()), err_path_(temp_file()) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e; ++e) {
    std::string kv{*e};
    auto eq = kv.find('=');
    if (eq != std::string::npos)
      vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  vars.erase("PERDURE_STORAGE");
  vars.erase("NO_COLOR");
  for (auto& [k, v] : env)
    vars[k] = v;
  std::vector<std::string> env_strings;
  for (auto& [k, v] : vars)
    env_strings.push_back(k + "=" + v);
  std::vector<std::string> all{std::move(program)};
  all.insert(all.end(), args.begin(), args.end());
  proc_ = std::make_unique<subprocess>(
    all, subprocess_options{.stdout_file = out_path_,
                            .stderr_file = err_path_,
                            .env = std::move(env_strings)});
}

cli_process::~cli_process() {
  proc_.reset(); // SIGKILLs and reaps a process still running
  ::unlink(out_path_.c_str());
  ::unlink(err_path_.c_str());
}

void cli_process::signal(int sig) {
  proc_->signal(sig);
}

std::string cli_process::peek_out() const {
  return slurp(out_path_);
}

bool cli_process::wait_for_out(const std::string& text, double seconds) const {
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds{static_cast<long>(seconds * 1000)};
  while (std::chrono::steady_clock::now() < deadline) {
    if (peek_out().find(text) != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return false;
}

cli_result cli_process::wait() {
  cli_result r;
  r.code = proc_->wait();
  r.out = slurp(out_path_);
  r.err = slurp(err_path_);
  return r;
}

cli_result run_program(const std::string& program,
                       const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
  cli_process p{program, args, env};
  return p.wait();
}

cli_result run_perdure(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
  cli_process p{args, env};
  return p.wait();
}

std::string perdure_cli_path() {
  return PERDURE_CLI_PATH;
}

} // namespace perdure::test
