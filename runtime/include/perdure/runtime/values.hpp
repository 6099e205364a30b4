// SPDX-License-Identifier: Apache-2.0
#pragma once

// Values that flow between steps: `caught<T>` (the output of a catching step),
// `object_ref<T>` (a payload stored once, content-addressed) and the encoding
// of step inputs and outputs through the payload codec.

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/status.hpp"
#include "perdure/runtime/errors.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace perdure {

/// The output of `catching(step)(args...)`: the step's value, or the error
/// that made it (or anything inside its dynamic sub-graph) fail.
template <class T>
class caught {
 public:
  using value_type = T;

  caught() = default;
  static caught success(T v) {
    caught c;
    c.value_ = std::move(v);
    return c;
  }
  static caught failure(std::string type, std::string text) {
    caught c;
    c.error_type_ = std::move(type);
    c.error_text_ = std::move(text);
    return c;
  }

  /// True when the step succeeded.
  bool ok() const noexcept {
    return value_.has_value();
  }
  explicit operator bool() const noexcept {
    return ok();
  }
  /// @pre `ok()`
  const T& value() const& {
    return *value_;
  }
  T&& value() && {
    return std::move(*value_);
  }
  const std::optional<T>& maybe_value() const noexcept {
    return value_;
  }
  /// The recorded exception type, e.g. "std::runtime_error"; empty when ok.
  const std::string& error_type() const noexcept {
    return error_type_;
  }
  /// The recorded exception text; empty when ok.
  const std::string& error() const noexcept {
    return error_text_;
  }

  /// Codec hooks: stored as [ok, value or null, error type, error text].
  using saved_form = std::tuple<bool, std::optional<T>, std::string,
                                std::string>;
  saved_form perdure_save() const {
    return saved_form{ok(), value_, error_type_, error_text_};
  }
  static caught perdure_load(saved_form s) {
    auto& [ok, value, type, text] = s;
    if (ok && value)
      return success(std::move(*value));
    return failure(std::move(type), std::move(text));
  }

 private:
  std::optional<T> value_;
  std::string error_type_;
  std::string error_text_;
};

namespace detail {

/// Reads stored blobs; implemented by the engine.
class blob_source {
 public:
  virtual ~blob_source() = default;
  /// Calls `fn` with the blob's bytes in place (valid only inside `fn`).
  virtual status with_blob(std::string_view key,
                           const std::function<void(std::string_view)>& fn) = 0;
};

/// The blob source of the step running on this thread, if any.
std::shared_ptr<blob_source> current_blob_source();

/// Stores `bytes` as a blob: inside a step it becomes durable with the
/// step's output; elsewhere it fails `invalid_argument`. Returns the key.
result<std::string> put_blob_in_step(std::string bytes);

template <class T>
result<T> decode_value(std::string_view bytes);

} // namespace detail

/// A payload stored once in the engine's storage, content-addressed; many
/// steps may take it and all read the same bytes. Cheap to copy.
template <class T>
class object_ref {
 public:
  using value_type = T;

  object_ref() = default;
  object_ref(std::string key, std::shared_ptr<detail::blob_source> src)
    : key_(std::move(key)), source_(std::move(src)) {
  }

  /// The content hash naming the payload (64 hex characters).
  const std::string& key() const noexcept {
    return key_;
  }

  /// Reads and decodes the payload (decoded straight from the storage map).
  /// Fails `not_found` for an unknown key, `invalid_argument` when the ref
  /// is not bound to an engine (use `engine::get`).
  result<T> try_get() const {
    auto src = source_ ? source_ : detail::current_blob_source();
    if (!src)
      return unexpected{errc::invalid_argument,
                        "object_ref::get outside a step: use engine::get"};
    std::optional<result<T>> out;
    auto st = src->with_blob(key_, [&](std::string_view bytes) {
      out.emplace(detail::decode_value<T>(bytes));
    });
    if (!st)
      return st;
    return std::move(*out);
  }
  /// As try_get(), throwing the typed exception on failure.
  T get() const {
    return value_or_throw(try_get());
  }

  /// Codec hooks: stored as its key; a decoded ref reads through the
  /// engine of the step that decodes it.
  std::string perdure_save() const {
    return key_;
  }
  static object_ref perdure_load(std::string key) {
    return object_ref{std::move(key), detail::current_blob_source()};
  }

 private:
  std::string key_;
  std::shared_ptr<detail::blob_source> source_;
};

namespace detail {

template <class T>
struct is_caught : std::false_type {};
template <class T>
struct is_caught<caught<T>> : std::true_type {};

template <class T>
struct is_object_ref : std::false_type {};
template <class T>
struct is_object_ref<object_ref<T>> : std::true_type {};

/// Encodes a step value with the payload codec.
template <class T>
std::string encode_value(const T& v) {
  return codec::encode(v);
}

/// Decodes a step value; `type_mismatch` when the bytes do not fit `T`.
template <class T>
result<T> decode_value(std::string_view bytes) {
  return codec::decode<T>(bytes);
}

/// The stable type text of `T` used in step signatures.
template <class T>
std::string value_signature() {
  return codec::type_signature<T>();
}

} // namespace detail

/// Inside a step body: stores `value` once (content-addressed) together with
/// the step's output and returns a reference to it. Outside a step use
/// `engine::put`. Throws `perdure::error` when called outside a step.
template <class T>
object_ref<T> put(const T& value) {
  auto key = value_or_throw(detail::put_blob_in_step(detail::encode_value(value)));
  return object_ref<T>{std::move(key), detail::current_blob_source()};
}

} // namespace perdure
