// SPDX-License-Identifier: Apache-2.0
#pragma once

// The typed exceptions of perdure's user-facing API. Library code passes
// errors as `status` / `result<T>`; only the calls that hand a user a value
// (`engine::run`, `handle::get`, `engine::output`, ...) turn a failed status
// into one of these, like `std::future::get` does.

#include "perdure/eventlog/status.hpp"

#include <stdexcept>
#include <string>

namespace perdure {

/// The base of every exception perdure throws; carries the status it came
/// from, so `code()` tells the kind of failure and `what()` the message.
class error : public std::runtime_error {
 public:
  explicit error(status s)
    : std::runtime_error(s.to_string()), status_(std::move(s)) {
  }
  errc code() const noexcept {
    return status_.code();
  }
  const status& as_status() const noexcept {
    return status_;
  }

 private:
  status status_;
};

/// An unknown workflow id, step name or object.
class not_found : public error {
  using error::error;
};

/// The workflow (or the named step) failed; `what()` names the step, the
/// exception type and its text as recorded. Resume it once the cause is fixed.
class workflow_failed : public error {
  using error::error;
};

/// The workflow was canceled; it has no output.
class workflow_canceled : public error {
  using error::error;
};

/// A step of a stored workflow is no longer registered or its signature
/// changed; the message names the step. The workflow stays resumable.
class signature_mismatch : public error {
  using error::error;
};

/// The id is live in this engine (run or resume twice), or the storage is
/// held by another engine.
class workflow_busy : public error {
  using error::error;
};

/// The workflow is in a state that does not allow the call, e.g. reading
/// the output of a resumable workflow, or resuming a canceled one.
class invalid_state : public error {
  using error::error;
};

/// Throws the typed exception matching `s.code()`.
/// @pre `!s.is_ok()`
[[noreturn]] void throw_error(status s);

/// Returns the value of `r`, or throws the typed exception of its status.
template <class T>
T value_or_throw(result<T> r) {
  if (!r)
    throw_error(std::move(r).error());
  return std::move(r).value();
}

/// Throws the typed exception of `s` unless it is ok.
inline void ok_or_throw(status s) {
  if (!s)
    throw_error(std::move(s));
}

} // namespace perdure
