// SPDX-License-Identifier: Apache-2.0
#include "step_attempt.hpp"

#include "engine_impl.hpp"

#include <algorithm>
#include <chrono>

namespace perdure::detail {

bool attempt_link::begin() {
  std::lock_guard guard{mu_};
  if (!to_)
    return false;
  m_->steps_started->inc();
  began_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
             .count();
  return true;
}

std::chrono::nanoseconds attempt_link::left(
  std::chrono::milliseconds limit) const {
  auto began = began_.load();
  if (began == 0)
    return limit;
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return limit - (now - std::chrono::nanoseconds{began});
}

std::chrono::nanoseconds attempt_link::beat_left(
  std::chrono::milliseconds hb) const {
  auto since = std::max(began_.load(), beat.load());
  if (since == 0)
    return hb;
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return hb - (now - std::chrono::nanoseconds{since});
}

void attempt_link::deliver(std::shared_ptr<step_done> d, double seconds) {
  std::lock_guard guard{mu_};
  if (!to_)
    return;
  if (seconds >= 0) {
    m_->step_seconds->observe(seconds);
    (d->out.what == outcome::kind::error ? m_->steps_failed
                                         : m_->steps_succeeded)
      ->inc();
  }
  to_(std::move(d));
}

void attempt_link::cut() {
  sink old;
  {
    std::lock_guard guard{mu_};
    old.swap(to_);
  }
}

bool attempt_link::cut_unbegun() {
  sink old;
  std::lock_guard guard{mu_};
  if (began_.load() != 0 || !to_)
    return false;
  old.swap(to_);
  return true;
}

void launch(step_pool& pool, ready_attempt a) {
  pool.submit(std::move(a.need), std::move(a.job), std::move(a.skip),
              std::move(a.label));
}

std::string attempt_job::label() const {
  return "workflow '" + workflow + "' step '" + step + "' attempt "
         + std::to_string(link->attempt);
}

void attempt_job::operator()() {
  auto d = std::make_shared<step_done>();
  if (token.canceled() || !link->begin()) {
    d->out = outcome::failure("perdure::canceled", "workflow canceled");
    link->deliver(std::move(d));
    return;
  }
  d->started = eventlog::now_ns();
  auto t0 = std::chrono::steady_clock::now();
  {
    step_scope scope{workflow, step, link->attempt, token, blobs,
                     &link->beat, local};
    d->out = def->invoke(inputs);
    d->blobs = scope.take_blobs();
  }
  link->deliver(std::move(d), std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - t0)
                                .count());
}

} // namespace perdure::detail
