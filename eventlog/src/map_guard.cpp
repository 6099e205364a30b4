// SPDX-License-Identifier: Apache-2.0
#include "map_guard.hpp"

#include <csignal>
#include <cstring>
#include <mutex>

namespace perdure::eventlog::detail {

thread_local sigjmp_buf* map_guard_jump = nullptr;

namespace {

struct sigaction previous_bus;
struct sigaction previous_segv;

void on_fault(int sig, siginfo_t* info, void* ctx) {
  if (sigjmp_buf* jump = map_guard_jump) {
    map_guard_jump = nullptr;
    siglongjmp(*jump, 1);
  }
  // Not ours: hand it to whoever was there before, or die as usual.
  const struct sigaction& prev = sig == SIGBUS ? previous_bus : previous_segv;
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction) {
      prev.sa_sigaction(sig, info, ctx);
      return;
    }
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  ::signal(sig, SIG_DFL); // the faulting instruction runs again and kills
}

} // namespace

void install_map_guard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    // SA_NODEFER and no sa_mask: the handler runs with the interrupted
    // mask, so guarded()'s sigsetjmp need not save it (map_guard.hpp).
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &previous_bus);
    ::sigaction(SIGSEGV, &sa, &previous_segv);
  });
}

} // namespace perdure::eventlog::detail
