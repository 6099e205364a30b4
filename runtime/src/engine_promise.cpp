// SPDX-License-Identifier: Apache-2.0
// Durable promises: engine::complete / reject store the one settlement of
// a promise (records::settle_promise, shared with `perdure promise`) in
// stream signals/ID; the log's commit hook wakes the signal source, which
// hands it to the promise's waits (see signal_source.cpp).

#include "engine_impl.hpp"

#include "perdure/eventlog/records/promise.hpp"
#include "perdure/runtime/promise.hpp"

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace perdure {

namespace rec = perdure::records;

namespace this_step {

std::string promise_id(std::string_view name) {
  if (workflow_id().empty())
    throw_error({errc::invalid_argument,
                 "this_step::promise_id() outside a step body"});
  if (auto why = rec::check_promise_name(name); !why.empty())
    throw_error({errc::invalid_argument, why});
  return rec::promise_id(workflow_id(), name);
}

} // namespace this_step

perdure::status engine::settle_promise(std::string_view promise_id, bool ok,
                                       std::string value_or_reason,
                                       std::string_view sender) {
  auto& p = *impl_;
  auto addr = rec::parse_promise_id(promise_id);
  if (!addr.error.empty())
    return {errc::invalid_argument, addr.error};
  rec::promise_settled s;
  s.workflow = std::move(addr.workflow);
  s.name = std::move(addr.name);
  s.ok = ok;
  s.sender = std::string{sender};
  if (ok) {
    if (auto st = codec::validate(value_or_reason); !st)
      return {errc::invalid_argument,
              fmt::format("promise '{}': the value is not a valid payload: "
                          "{}",
                          promise_id, st.message())};
    s.value.data = std::move(value_or_reason);
  } else {
    s.error = std::move(value_or_reason);
  }
  // Started by this engine a moment ago: its first batch is on its way.
  auto starting = [&] {
    {
      std::lock_guard guard{p.mu};
      if (p.live.count(s.workflow) == 0)
        return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
    return true;
  };
  // Ordered with this engine's signals to the workflow (engine_signal.cpp):
  // commits follow calls.
  auto lock = p.signals->sender_lock(s.workflow);
  std::lock_guard sending{*lock};
  // The log's commit hook wakes the promise's waits (signal_hub).
  return rec::settle_promise(*p.log, s, starting).as_status();
}

} // namespace perdure
