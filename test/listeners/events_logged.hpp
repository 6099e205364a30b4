// SPDX-License-Identifier: Apache-2.0
#pragma once

// How many events a workflow has logged; the listener tests' proof that a
// delivery happened (built with or without Kafka).

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/runtime/engine.hpp"

#include <string>

namespace perdure::test {

/// How many events workflow `id` has logged (event_received records).
inline int events_logged(engine& eng, const std::string& id) {
  int n = 0;
  auto recs = eng.event_log()->read(id).value();
  for (auto& r : recs)
    n += r.kind == eventlog::to_u16(eventlog::record_kind::event_received);
  return n;
}

} // namespace perdure::test
