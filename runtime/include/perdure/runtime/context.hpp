// SPDX-License-Identifier: Apache-2.0
#pragma once

// What a running step body may ask about itself: its workflow and step ids,
// its attempt, and whether its workflow was canceled (cooperative stop).

#include <atomic>
#include <memory>
#include <string>

namespace perdure {

class engine;

/// A cooperative cancellation flag shared with the engine. Cheap to copy.
class cancellation_token {
 public:
  cancellation_token() = default;
  /// Set when `flag` is (the workflow's), or `also` (the attempt's: its
  /// step timeout passed).
  explicit cancellation_token(std::shared_ptr<const std::atomic<bool>> flag,
                              std::shared_ptr<const std::atomic<bool>> also =
                                {})
    : flag_(std::move(flag)), also_(std::move(also)) {
  }
  /// True once the workflow was canceled or the attempt's timeout passed;
  /// a body should then return soon.
  bool canceled() const noexcept {
    return (flag_ && flag_->load(std::memory_order_relaxed))
           || (also_ && also_->load(std::memory_order_relaxed));
  }

 private:
  std::shared_ptr<const std::atomic<bool>> flag_;
  std::shared_ptr<const std::atomic<bool>> also_;
};

namespace this_step {

/// The token of the step running on this thread (a never-canceled token
/// outside a step).
cancellation_token token();

/// Shorthand for `token().canceled()`.
bool canceled() noexcept;

/// The running workflow's id (empty outside a step).
const std::string& workflow_id() noexcept;

/// The running step's id in its workflow, e.g. "fib_3" (empty outside).
const std::string& step_id() noexcept;

/// The 1-based attempt of the running step (0 outside a step).
int attempt() noexcept;

/// Reports that the running body makes progress: resets its attempt's
/// `step_options::heartbeat_timeout` clock. Cheap (one atomic store); does
/// nothing outside a step body or without that option.
void heartbeat() noexcept;

/// The engine running this step body (or actor method), so that a body can
/// send signals, start workflows or call actors without a global. Throws
/// `perdure::error`: `invalid_argument` outside a body, `closed` once the
/// engine's destructor has begun. The reference is valid while the body
/// runs; a body abandoned at shutdown (it ignored its token past
/// `stop_timeout`) must not keep using it.
perdure::engine& engine();

/// As engine(), or null instead of throwing.
perdure::engine* engine_or_null() noexcept;

} // namespace this_step

namespace detail {

class blob_source;

/// Makes `this_step::engine()` return `e` on this thread while it lives
/// (the actors module wraps each method call in one), and throw once `e`'s
/// destructor has begun (a method abandoned by the engine's stop that
/// goes on afterwards). Nests.
class engine_scope {
 public:
  explicit engine_scope(perdure::engine& e) noexcept;
  ~engine_scope();
  engine_scope(const engine_scope&) = delete;
  engine_scope& operator=(const engine_scope&) = delete;

 private:
  std::shared_ptr<blob_source> previous_;
};

} // namespace detail
} // namespace perdure
