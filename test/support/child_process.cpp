// SPDX-License-Identifier: Apache-2.0
#include "child_process.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
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
  std::vector<std::string> all{"/proc/self/exe", "--child", name};
  all.insert(all.end(), args.begin(), args.end());
  proc_ = std::make_unique<subprocess>(all);
  pid_ = proc_->pid();
}

child_process::~child_process() = default;

std::string child_process::read_line(std::chrono::milliseconds timeout) {
  return proc_->read_line(timeout);
}

bool child_process::read_until(const std::string& line,
                               std::chrono::milliseconds timeout) {
  for (;;) {
    auto got = read_line(timeout);
    if (got.empty())
      return false;
    if (got == line)
      return true;
  }
}

void child_process::kill() {
  proc_->kill();
}

int child_process::wait() {
  return proc_->wait();
}

void hold_until_killed() {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) // the test is already gone
    ::_exit(1);
  for (;;)
    ::pause();
}

} // namespace perdure::test
