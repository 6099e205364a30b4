// SPDX-License-Identifier: Apache-2.0
#pragma once

// The crash-at-every-write harness: runs a workflow once while recording every
// storage write (each committed write batch), then, for every prefix of those
// writes, rebuilds a storage directory from the prefix — the state a crash
// right after that write leaves — resumes the workflow on it and checks that
// it ends with the identical output (or, before the submission was durable,
// that the id is cleanly unknown). Users run it on their own workflows in
// their tests.

#include "perdure/eventlog/codec.hpp"
#include "perdure/runtime/engine.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace perdure::testing {

/// What one harness run found.
struct crash_report {
  std::size_t writes = 0;    ///< write batches the reference run committed
  std::size_t prefixes = 0;  ///< prefixes tried (all of 0..writes, or sampled)
  std::size_t not_found = 0; ///< prefixes before the submission was durable
  std::size_t resumed = 0;   ///< prefixes resumed to the identical output
  /// One line per prefix that went wrong: "prefix 7 of 12: <what>".
  std::vector<std::string> failures;

  bool ok() const noexcept {
    return failures.empty() && prefixes > 0;
  }
};

/// Options of a harness run.
struct crash_options {
  /// Scratch directory (one sub-directory per prefix, removed after use);
  /// empty: a fresh directory under the system temp dir.
  std::filesystem::path work_dir = {};
  /// Durability of the rebuilt storages (a crash point is a process crash).
  eventlog::durability durability = eventlog::durability::process;
  /// Step capacity of the engines.
  resources capacity = {};
  /// Try at most this many prefixes, evenly spread and always including the
  /// first and the last (0: every prefix).
  std::size_t max_prefixes = 0;
};

namespace detail {

/// Runs the reference workflow (`run` gets an engine and the id, returns
/// the encoded output) and then resumes every prefix (`resume` likewise).
crash_report run_crash_harness(
  const std::string& id, const crash_options& opts,
  const std::function<result<std::string>(engine&, const std::string&)>& run,
  const std::function<result<std::string>(engine&, const std::string&)>&
    resume);

} // namespace detail

/// Runs `wf` as workflow `id` and replays a crash after every one of its
/// storage writes; see the file comment. The step bodies run once for the
/// reference run and again for every prefix that did not log their success,
/// so side effects outside the engine repeat as they would after real
/// crashes. Thread-safe as far as the steps are.
template <class T>
crash_report crash_at_every_write(const workflow<T>& wf, std::string id,
                                  crash_options opts = {}) {
  auto encoded = [](result<T> r) -> result<std::string> {
    if (!r)
      return std::move(r).error();
    return codec::encode(*r);
  };
  return detail::run_crash_harness(
    id, opts,
    [&](engine& eng, const std::string& wid) {
      return encoded(eng.try_run(wf, wid));
    },
    [&](engine& eng, const std::string& wid) -> result<std::string> {
      auto h = eng.try_resume(wid);
      if (!h)
        return std::move(h).error();
      return encoded(handle<T>{h->state()}.try_get());
    });
}

} // namespace perdure::testing
