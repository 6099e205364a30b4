// SPDX-License-Identifier: Apache-2.0
#include "metadata_wire.hpp"

#include "perdure/eventlog/codec.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

namespace perdure::cluster {

namespace {

using workflow_wire =
  std::tuple<std::string, std::uint8_t, metadata_map, std::optional<time_ns>,
             std::optional<time_ns>, int, int, int, std::uint64_t,
             std::uint64_t, std::string>;

// effective_step_options, durations in milliseconds.
using options_wire =
  std::tuple<std::string, int, std::int64_t, std::int64_t, double,
             std::int64_t, std::int64_t, double, double,
             std::map<std::string, double>, bool, bool>;
using attempt_wire = std::tuple<int, time_ns, std::optional<time_ns>,
                                std::string, std::string>;
using step_wire =
  std::tuple<std::string, options_wire, metadata_map, std::uint8_t,
             std::vector<attempt_wire>, std::optional<time_ns>,
             std::optional<time_ns>, std::string>;

template <class Wire>
result<Wire> decode_wire(std::string_view bytes, std::string_view what) {
  auto w = codec::decode<Wire>(bytes);
  if (!w)
    return unexpected{errc::corruption,
                      std::string{what} + " does not decode: "
                        + w.error().message()};
  return std::move(*w);
}

std::chrono::milliseconds ms(std::int64_t n) {
  return std::chrono::milliseconds{n};
}

} // namespace

std::string encode_metadata(const workflow_metadata& m) {
  return codec::encode(workflow_wire{
    m.id, static_cast<std::uint8_t>(m.status), m.user_metadata, m.start,
    m.end, m.runs, m.run_number, m.attempts, m.steps, m.steps_succeeded,
    m.error_text});
}

result<workflow_metadata> decode_metadata(std::string_view bytes) {
  auto w = decode_wire<workflow_wire>(bytes, "a workflow's metadata");
  if (!w)
    return std::move(w).error();
  workflow_metadata m;
  std::uint8_t status = 0;
  std::uint64_t steps = 0, succeeded = 0;
  std::tie(m.id, status, m.user_metadata, m.start, m.end, m.runs,
           m.run_number, m.attempts, steps, succeeded, m.error_text) = *w;
  m.status = static_cast<workflow_status>(status);
  m.steps = static_cast<std::size_t>(steps);
  m.steps_succeeded = static_cast<std::size_t>(succeeded);
  return m;
}

std::string encode_step_metadata(const step_metadata& m) {
  const auto& o = m.options;
  std::vector<attempt_wire> attempts;
  attempts.reserve(m.attempts.size());
  for (const auto& a : m.attempts)
    attempts.emplace_back(a.attempt, a.start, a.end, a.error_type,
                          a.error_text);
  return codec::encode(step_wire{
    m.id,
    options_wire{o.step_name, o.max_attempts, o.retry_backoff.count(),
                 o.retry_backoff_max.count(), o.retry_jitter,
                 o.timeout.count(), o.heartbeat_timeout.count(), o.cpus,
                 o.gpus, o.custom, o.catching, o.local},
    m.user_metadata, static_cast<std::uint8_t>(m.state), std::move(attempts),
    m.start, m.end, m.error_text});
}

result<step_metadata> decode_step_metadata(std::string_view bytes) {
  auto w = decode_wire<step_wire>(bytes, "a step's metadata");
  if (!w)
    return std::move(w).error();
  step_metadata m;
  options_wire ow;
  std::uint8_t state = 0;
  std::vector<attempt_wire> attempts;
  std::tie(m.id, ow, m.user_metadata, state, attempts, m.start, m.end,
           m.error_text) = std::move(*w);
  auto& o = m.options;
  std::int64_t backoff = 0, backoff_max = 0, timeout = 0, heartbeat = 0;
  std::tie(o.step_name, o.max_attempts, backoff, backoff_max,
           o.retry_jitter, timeout, heartbeat, o.cpus, o.gpus, o.custom,
           o.catching, o.local) = std::move(ow);
  o.retry_backoff = ms(backoff);
  o.retry_backoff_max = ms(backoff_max);
  o.timeout = ms(timeout);
  o.heartbeat_timeout = ms(heartbeat);
  m.state = static_cast<step_state>(state);
  for (auto& [n, start, end, type, text] : attempts)
    m.attempts.push_back({n, start, end, std::move(type), std::move(text)});
  return m;
}

} // namespace perdure::cluster
