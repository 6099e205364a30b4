// SPDX-License-Identifier: Apache-2.0
// The process-wide step registry, option merging, exception description and
// the small vocabulary functions of the public headers.

#include "perdure/runtime/errors.hpp"
#include "perdure/runtime/metadata.hpp"
#include "perdure/runtime/step.hpp"

#include <cstdlib>
#include <cxxabi.h>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <set>
#include <typeinfo>

namespace perdure {

namespace detail {

namespace {

struct registry {
  std::mutex mu;
  std::map<std::string, std::weak_ptr<const step_def>, std::less<>> steps;
  std::set<std::string> duplicates;
};

registry& the_registry() {
  static registry r;
  return r;
}

std::string demangle(const char* name) {
  int rc = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &rc);
  std::string s = rc == 0 && out ? out : name;
  std::free(out);
  return s;
}

} // namespace

std::shared_ptr<const step_def> register_step(std::shared_ptr<step_def> def) {
  auto& r = the_registry();
  std::lock_guard guard{r.mu};
  auto& slot = r.steps[def->name];
  if (!slot.expired())
    r.duplicates.insert(def->name);
  else
    r.duplicates.erase(def->name);
  slot = def;
  return def;
}

std::shared_ptr<const step_def> find_step(std::string_view name) {
  auto& r = the_registry();
  std::lock_guard guard{r.mu};
  auto i = r.steps.find(name);
  return i == r.steps.end() ? nullptr : i->second.lock();
}

status registry_check() {
  auto& r = the_registry();
  std::lock_guard guard{r.mu};
  std::string names;
  for (auto i = r.duplicates.begin(); i != r.duplicates.end();) {
    auto s = r.steps.find(*i);
    // A duplicate whose later registration died is resolved.
    if (s == r.steps.end() || s->second.expired()) {
      i = r.duplicates.erase(i);
      continue;
    }
    names += (names.empty() ? "'" : ", '") + *i + "'";
    ++i;
  }
  if (names.empty())
    return {};
  return {errc::invalid_argument,
          "steps registered twice under one name: " + names
            + "; give each step a unique name"};
}

std::pair<std::string, std::string> describe_current_exception() {
  try {
    throw;
  } catch (const std::exception& e) {
    return {demangle(typeid(e).name()), e.what()};
  } catch (const std::string& s) {
    return {"std::string", s};
  } catch (const char* s) {
    return {"const char*", s};
  } catch (...) {
    auto* t = abi::__cxa_current_exception_type();
    return {t ? demangle(t->name()) : "unknown", "(not a std::exception)"};
  }
}

step_options merge_options(const step_options& base, step_options o) {
  if (o.name.empty())
    o.name = base.name;
  if (!o.max_attempts)
    o.max_attempts = base.max_attempts;
  if (!o.retry_backoff)
    o.retry_backoff = base.retry_backoff;
  if (!o.retry_backoff_max)
    o.retry_backoff_max = base.retry_backoff_max;
  if (!o.retry_jitter)
    o.retry_jitter = base.retry_jitter;
  if (!o.timeout)
    o.timeout = base.timeout;
  if (!o.heartbeat_timeout)
    o.heartbeat_timeout = base.heartbeat_timeout;
  if (!o.local)
    o.local = base.local;
  if (!o.resources.cpus)
    o.resources.cpus = base.resources.cpus;
  if (!o.resources.gpus)
    o.resources.gpus = base.resources.gpus;
  for (auto& [k, v] : base.resources.custom)
    o.resources.custom.try_emplace(k, v);
  for (auto& [k, v] : base.metadata)
    o.metadata.try_emplace(k, v);
  return o;
}

void check_options(const node& n) {
  auto o = merge_options(n.def->defaults, n.opts);
  auto bad = [&](const std::string& what) {
    throw error{status{errc::invalid_argument,
                       fmt::format("step '{}': {}", n.def->name, what)}};
  };
  if (o.max_attempts && *o.max_attempts < 1)
    bad("max_attempts must be at least 1");
  if (o.retry_backoff && o.retry_backoff->count() < 0)
    bad("retry_backoff must not be negative");
  if (o.retry_backoff_max && o.retry_backoff_max->count() < 0)
    bad("retry_backoff_max must not be negative");
  if (o.retry_jitter && !(*o.retry_jitter >= 0 && *o.retry_jitter <= 1))
    bad("retry_jitter must be within [0, 1]");
  if (o.timeout && o.timeout->count() <= 0)
    bad("timeout must be positive");
  if (o.heartbeat_timeout && o.heartbeat_timeout->count() <= 0)
    bad("heartbeat_timeout must be positive");
  if (o.resources.cpus.value_or(1) < 0 || o.resources.gpus.value_or(0) < 0)
    bad("resources must not be negative");
  for (auto& [k, v] : o.resources.custom)
    if (v < 0)
      bad("resource '" + k + "' must not be negative");
  auto& r = o.resources;
  if (o.local.value_or(false) && (r.cpus || r.gpus || !r.custom.empty()))
    bad("a local step takes no pool resources: leave resources unset");
}

} // namespace detail

// -- vocabulary ----------------------------------------------------------------

std::string_view to_string(workflow_status s) noexcept {
  switch (s) {
    case workflow_status::running: return "running";
    case workflow_status::failed: return "failed";
    case workflow_status::resumable: return "resumable";
    case workflow_status::canceled: return "canceled";
    case workflow_status::successful: return "successful";
  }
  return "unknown";
}

std::string_view to_string(step_state s) noexcept {
  switch (s) {
    case step_state::pending: return "pending";
    case step_state::running: return "running";
    case step_state::continued: return "continued";
    case step_state::succeeded: return "succeeded";
    case step_state::failed: return "failed";
  }
  return "unknown";
}

void throw_error(status s) {
  switch (s.code()) {
    case errc::not_found: throw not_found{std::move(s)};
    case errc::failed: throw workflow_failed{std::move(s)};
    case errc::canceled: throw workflow_canceled{std::move(s)};
    case errc::type_mismatch: throw signature_mismatch{std::move(s)};
    case errc::busy: throw workflow_busy{std::move(s)};
    case errc::conflict: throw invalid_state{std::move(s)};
    default: throw error{std::move(s)};
  }
}

} // namespace perdure
