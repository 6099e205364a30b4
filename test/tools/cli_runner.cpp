// SPDX-License-Identifier: Apache-2.0
#include "cli_runner.hpp"

#include <chrono>
#include <csignal>
#include <thread>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
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
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int out = ::open(out_path_.c_str(), O_WRONLY | O_TRUNC);
    int err = ::open(err_path_.c_str(), O_WRONLY | O_TRUNC);
    int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0)
      ::_exit(126);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    std::vector<char*> argv, envp;
    for (auto& a : all)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
}

cli_process::~cli_process() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  ::unlink(out_path_.c_str());
  ::unlink(err_path_.c_str());
}

void cli_process::signal(int sig) {
  ::kill(pid_, sig);
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
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0) {
  }
  reaped_ = true;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
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
