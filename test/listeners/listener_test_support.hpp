// SPDX-License-Identifier: Apache-2.0
#pragma once

// Helpers the listener tests share: polling, parsing a record's number, and
// reading stored Kafka offsets beside no writer.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/listeners/kafka.hpp"

#include "events_logged.hpp"
#include "wait_until.hpp"

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace perdure::test {

/// The record's value as a whole number; anything else throws (a poison
/// record for the tests that want one).
inline long long record_number(const kafka_record& r) {
  std::size_t used = 0;
  long long v = std::stoll(r.value, &used);
  if (used != r.value.size())
    throw std::invalid_argument{"not a number: '" + r.value + "'"};
  return v;
}

/// Options to read a storage beside no writer (or beside a running one).
inline eventlog::options reader_options(const std::string& storage) {
  eventlog::options o;
  o.dir = storage;
  o.read_only = true;
  o.exclusive = false;
  return o;
}

/// Records taken so far from `partitions` partitions of `src` (the sum of
/// the stored offsets), read beside no writer; 0 when nothing is stored.
inline std::int64_t stored_offsets(const std::string& storage,
                                   const kafka_source& src,
                                   int partitions) {
  auto log = eventlog::event_log::open(reader_options(storage));
  if (!log)
    return 0;
  std::int64_t n = 0;
  for (int p = 0; p < partitions; ++p)
    n += (*log)->offset(offset_key(src, p)).value().value_or(0);
  return n;
}

} // namespace perdure::test
