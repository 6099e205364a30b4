// SPDX-License-Identifier: Apache-2.0
// The thread-local context of a running step body (context.hpp), and the
// blobs a body puts with `perdure::put`.

#include "engine_impl.hpp"

#include <chrono>

namespace perdure {

namespace {

struct step_context {
  const std::string* workflow = nullptr;
  const std::string* step = nullptr;
  int attempt = 0;
  cancellation_token token;
  std::shared_ptr<detail::blob_source> blobs;
  std::vector<std::string> put;
  std::atomic<std::int64_t>* beat = nullptr;
  bool local = false;
};

// Set by engine_scope (an actor method): the scoped engine's blobs, whose
// owner is the engine until its destructor begins. Else derived from a
// step's blobs.
thread_local std::shared_ptr<detail::blob_source> scoped_engine;

thread_local step_context* current = nullptr;

const std::string empty_text;

} // namespace

namespace detail {

step_scope::step_scope(const std::string& workflow, const std::string& step,
                       int attempt, cancellation_token token,
                       std::shared_ptr<blob_source> blobs,
                       std::atomic<std::int64_t>* beat, bool local) {
  current = new step_context{&workflow, &step, attempt, std::move(token),
                             std::move(blobs), {}, beat, local};
}

bool in_local_step() noexcept {
  return current && current->local;
}

perdure::status may_wait_for(const std::string& id) {
  if (!in_local_step())
    return {};
  return {errc::invalid_argument,
          "step '" + *current->step + "' of workflow '" + *current->workflow
            + "' is a local step and must not wait for workflow '" + id
            + "' (it holds its workflow's thread): make it a regular step"};
}

step_scope::~step_scope() {
  delete current;
  current = nullptr;
}

engine_scope::engine_scope(perdure::engine& e) noexcept
  : previous_(std::move(scoped_engine)) {
  scoped_engine = e.blob_source(); // a log_blobs (engine.cpp)
}

engine_scope::~engine_scope() {
  scoped_engine = std::move(previous_);
}

std::vector<std::string> step_scope::take_blobs() {
  return std::move(current->put);
}

std::shared_ptr<blob_source> current_blob_source() {
  return current ? current->blobs : nullptr;
}

result<std::string> put_blob_in_step(std::string bytes) {
  if (!current)
    return unexpected{errc::invalid_argument,
                      "perdure::put outside a step body: use engine::put"};
  // A scratch batch computes the content key the log will use.
  eventlog::write_batch scratch;
  auto key = scratch.put_blob(bytes);
  current->put.push_back(std::move(bytes));
  return key;
}

status log_blobs::with_blob(std::string_view key,
                            const std::function<void(std::string_view)>& fn) {
  auto log = log_.lock();
  if (!log)
    return {errc::closed, "the engine of this object_ref is closed"};
  return log->with_blob(key, fn);
}

} // namespace detail

namespace this_step {

cancellation_token token() {
  return current ? current->token : cancellation_token{};
}

bool canceled() noexcept {
  return current && current->token.canceled();
}

const std::string& workflow_id() noexcept {
  return current ? *current->workflow : empty_text;
}

const std::string& step_id() noexcept {
  return current ? *current->step : empty_text;
}

int attempt() noexcept {
  return current ? current->attempt : 0;
}

void heartbeat() noexcept {
  if (current && current->beat)
    current->beat->store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now().time_since_epoch())
        .count());
}

perdure::engine* engine_or_null() noexcept {
  auto* src = scoped_engine ? scoped_engine.get()
              : current     ? current->blobs.get()
                            : nullptr;
  auto* blobs = dynamic_cast<detail::log_blobs*>(src);
  return blobs ? blobs->owner.load() : nullptr;
}

perdure::engine& engine() {
  if (auto* e = engine_or_null())
    return *e;
  if (scoped_engine || current)
    throw_error({errc::closed,
                 "this_step::engine(): the engine of this step or actor "
                 "method is being destroyed (its stop abandoned the body)"});
  throw_error({errc::invalid_argument,
               "this_step::engine() outside a step body or an actor method"});
}

} // namespace this_step
} // namespace perdure
