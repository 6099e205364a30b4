// SPDX-License-Identifier: Apache-2.0
#pragma once

// The error vocabulary of perdure: `status` (success or an error code with a
// message) and `result<T>` (a value or a status). Member names follow
// `std::expected` so code can move to it when the toolchain has it.

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace perdure {

/// Stable error codes. Values are only ever appended, never renumbered: they
/// are stored in logs and printed by tools.
enum class errc : std::uint8_t {
  ok = 0,
  not_found,        ///< an id, stream, record or blob does not exist
  conflict,         ///< an optimistic check (`expected_last`) failed
  corruption,       ///< a stored record fails its checksum or schema check
  full,             ///< the storage map reached its configured maximum
  invalid_argument, ///< the caller passed something malformed
  io,               ///< the operating system or LMDB failed
  busy,             ///< the resource is held by someone else (lock, live id)
  closed,           ///< the object was closed or is shutting down
  type_mismatch,    ///< a payload does not decode as the requested type
  unsupported,      ///< a format version or feature this build cannot handle
  canceled,         ///< the operation or workflow was canceled
  failed,           ///< user code failed (an exception was recorded)
  timeout,          ///< a bounded wait ran out
  permission,       ///< refused for safety or denied by the OS: a storage
                    ///< directory or file owned by another user, writable
                    ///< by others, or a symbolic link; EACCES/EPERM
};

/// The stable lower-case name of `code`, e.g. "not_found".
std::string_view to_string(errc code) noexcept;

/// Success, or an error code with a human-readable message naming what failed.
class [[nodiscard]] status {
 public:
  /// A success.
  status() noexcept = default;

  /// An error; `code` should not be `errc::ok`.
  status(errc code, std::string message)
    : code_(code), message_(std::move(message)) {
  }

  static status ok() noexcept {
    return {};
  }

  bool is_ok() const noexcept {
    return code_ == errc::ok;
  }
  explicit operator bool() const noexcept {
    return is_ok();
  }
  errc code() const noexcept {
    return code_;
  }
  const std::string& message() const noexcept {
    return message_;
  }

  /// "not_found: stream 'x' does not exist" (or "ok").
  std::string to_string() const;

  friend bool operator==(const status& a, errc b) noexcept {
    return a.code_ == b;
  }

 private:
  errc code_ = errc::ok;
  std::string message_;
};

/// Tag to construct an erroneous `result` (mirrors `std::unexpected`).
struct unexpected {
  status error;
  explicit unexpected(status s) : error(std::move(s)) {
    assert(!error.is_ok());
  }
  unexpected(errc code, std::string message)
    : error(code, std::move(message)) {
  }
};

/// A value of type `T`, or a non-ok `status`.
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  result(T value) : data_(std::in_place_index<0>, std::move(value)) {
  }
  result(unexpected u) : data_(std::in_place_index<1>, std::move(u.error)) {
  }
  /// @pre `!s.is_ok()`
  result(status s) : data_(std::in_place_index<1>, std::move(s)) {
    assert(!std::get<1>(data_).is_ok());
  }

  bool has_value() const noexcept {
    return data_.index() == 0;
  }
  explicit operator bool() const noexcept {
    return has_value();
  }

  /// @pre `has_value()`
  T& value() & {
    assert(has_value());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(data_));
  }
  T& operator*() & {
    return value();
  }
  const T& operator*() const& {
    return value();
  }
  T&& operator*() && {
    return std::move(*this).value();
  }
  T* operator->() {
    return &value();
  }
  const T* operator->() const {
    return &value();
  }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

  /// @pre `!has_value()`
  const status& error() const& {
    assert(!has_value());
    return std::get<1>(data_);
  }
  status&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(data_));
  }

  /// The status of this result: ok when it holds a value.
  status as_status() const {
    return has_value() ? status{} : error();
  }

 private:
  std::variant<T, status> data_;
};

} // namespace perdure
