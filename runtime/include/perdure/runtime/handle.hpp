// SPDX-License-Identifier: Apache-2.0
#pragma once

// `handle<T>`: the future of a started workflow.

#include "perdure/runtime/errors.hpp"
#include "perdure/runtime/values.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace perdure {
namespace detail {

/// The shared state of one run (defined by the engine).
class run_state;

/// Blocks until the run ended; its encoded output or its error.
result<std::string> await_output(const run_state& st);
/// Waits up to `d`; true when the run ended.
bool await_for(const run_state& st, std::chrono::nanoseconds d);
const std::string& run_id(const run_state& st);

/// What every handle offers whatever its output type: the id and waiting.
class handle_base {
 public:
  handle_base() = default;
  explicit handle_base(std::shared_ptr<run_state> st) : state_(std::move(st)) {
  }

  /// The workflow id.
  const std::string& id() const {
    return run_id(*state_);
  }
  /// Waits at most `d`; true when the run has ended.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    return await_for(*state_,
                     std::chrono::duration_cast<std::chrono::nanoseconds>(d));
  }
  void wait() const {
    (void) await_output(*state_);
  }
  bool valid() const noexcept {
    return state_ != nullptr;
  }
  const std::shared_ptr<run_state>& state() const noexcept {
    return state_;
  }

 private:
  std::shared_ptr<run_state> state_;
};

} // namespace detail

/// The future of a workflow run. Copies share the run. `get` behaves like
/// `std::future::get` but may be called many times and from many threads.
template <class T = void>
class handle : public detail::handle_base {
 public:
  using handle_base::handle_base;

  /// Waits for the output; the error as a status (failed, canceled, closed).
  result<T> try_get() const {
    auto bytes = detail::await_output(*state());
    if (!bytes)
      return std::move(bytes).error();
    return detail::decode_value<T>(*bytes);
  }
  /// Waits for the output; throws the typed perdure exception on failure.
  T get() const {
    return value_or_throw(try_get());
  }
};

/// A handle whose output type is not named: wait and check for errors.
template <>
class handle<void> : public detail::handle_base {
 public:
  using handle_base::handle_base;

  /// Waits for the end; ok, or the error.
  status try_get() const {
    return detail::await_output(*state()).as_status();
  }
  void get() const {
    ok_or_throw(try_get());
  }
};

} // namespace perdure
