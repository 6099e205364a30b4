// SPDX-License-Identifier: Apache-2.0
#pragma once
// The node-level metrics an engine_host serves beside its engines'.

#include "perdure/cluster/engine_host.hpp"

#include <perdure/runtime/metrics.hpp>

namespace perdure::cluster {

/// Adds to `r` the families of `host`'s node and engines, read at each
/// scrape through host's public members. `host` must outlive `r`'s use.
void add_host_metrics(metrics::registry& r, const engine_host& host);

} // namespace perdure::cluster
