// SPDX-License-Identifier: Apache-2.0
#pragma once

// Signals and promise settlements through an engine_host carry an
// idempotency key, so that a request tried again (its answer lost, its
// owner changing) takes effect once: the key is stored as the record's
// sender ("key:KEY"), and the owner looks for it before it applies a
// signal, or after a promise answered conflict (engine_keyed.cpp).

#include "perdure/eventlog/status.hpp"

#include <perdure/runtime/engine.hpp>

#include <mutex>
#include <string>

namespace perdure::cluster {

class engine_host;

/// A key of this host's for a keyed request made without one: node id,
/// incarnation and a counter (engine_host.cpp).
std::string new_request_key(engine_host& host);

/// The lock a keyed signal to workflow `id` holds on this host from its
/// look-up to its commit, so that two tries of one key do not both miss
/// each other (engine_host.cpp).
std::mutex& keyed_lock(engine_host& host, const std::string& id);

/// request_kind::signal on the owner: `bytes` is keyed_bytes(key, the
/// encoded value). Applies the signal unless the workflow's signal stream
/// holds one from this key already (then answers as if it applied it).
result<std::string> keyed_signal(engine_host& host, engine& eng,
                                 const std::string& id,
                                 const std::string& name,
                                 const std::string& bytes);

/// request_kind::promise on the owner: `id` the workflow, `name` the
/// promise, `bytes` keyed_bytes(key, promise_bytes(ok, value)). A promise
/// settled already by this key answers ok; by another, conflict.
result<std::string> keyed_settle(engine& eng, const std::string& id,
                                 const std::string& name,
                                 const std::string& bytes);

} // namespace perdure::cluster
