// SPDX-License-Identifier: Apache-2.0
#pragma once

// The engine options every perdure-bench workload that opens an engine
// starts from (runtime workloads only: perdure-bench links the runtime when
// it is built).

#include "bench.hpp"

#include <perdure/runtime/options.hpp>

namespace perdure::bench {

/// Storage `o.dir / sub` with the runner's durability, sync policy,
/// checkpoint interval and write-back pacing; a workload sets the rest.
inline engine_options engine_opts(const bench_options& o, const char* sub) {
  return {.storage = o.dir / sub,
          .durability = o.mode,
          .sync = o.sync,
          .checkpoint_interval = o.checkpoint,
          .writeback_interval = o.writeback};
}

} // namespace perdure::bench
