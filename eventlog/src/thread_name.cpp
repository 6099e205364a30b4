// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/thread_name.hpp"

#include <pthread.h>

#include <algorithm>
#include <string>

namespace perdure::eventlog {

void set_thread_name(std::string_view name) noexcept {
  char buf[16] = {};
  name.copy(buf, std::min<std::size_t>(name.size(), sizeof buf - 1));
  ::pthread_setname_np(::pthread_self(), buf);
}

} // namespace perdure::eventlog
