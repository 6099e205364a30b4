// SPDX-License-Identifier: Apache-2.0
#pragma once

// Continue-as-new (perdure/runtime/continue_as_new.hpp): the earlier runs
// of a workflow. Run N of workflow ID, once it continued as new, is kept
// as stream `runs/ID/N` (kind other): its records wrapped as `run_record`
// (kind, seq, time and writer as first stored, and the payload), then its
// `workflow_continued`. The workflow's own stream holds only the live run
// (FORMAT.md, "Continue-as-new").

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace perdure::records {

/// One record of an earlier run, as it was stored in the workflow's stream.
struct run_record {
  std::uint16_t kind = 0;
  std::uint64_t seq = 0;  ///< its seq in the workflow's stream
  std::int64_t time = 0;  ///< its commit time (ns since the epoch)
  std::string writer;     ///< the engine that wrote it
  codec::bytes payload;   ///< its payload
};
PERDURE_FIELDS(run_record, kind, seq, time, writer, payload)

/// The last record of an archived run: step `step` (node `node`) returned
/// continue_as_new, so run `run` ended and run `run + 1` began in the
/// same transaction.
struct workflow_continued {
  std::uint32_t run = 0;
  std::uint32_t node = 0;
  std::string step;
  std::int64_t started = 0; ///< when the step's body began (0: unknown)
};
PERDURE_FIELDS(workflow_continued, run, node, step, started)

/// "runs/<workflow>/": the prefix of the workflow's archived runs.
inline std::string run_stream_prefix(std::string_view workflow) {
  return "runs/" + std::string{workflow} + "/";
}

/// "runs/<workflow>/<run>".
inline std::string run_stream(std::string_view workflow, std::uint32_t run) {
  return run_stream_prefix(workflow) + std::to_string(run);
}

/// The run number of `stream` when it is an archived run of `workflow`.
/// (A workflow whose id extends `workflow` with '/' shares the prefix;
/// its streams have more than digits after it.)
inline std::optional<std::uint32_t> run_of_stream(std::string_view workflow,
                                                  std::string_view stream) {
  auto prefix = run_stream_prefix(workflow);
  if (stream.size() <= prefix.size() || stream.size() > prefix.size() + 9
      || stream.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  std::uint32_t n = 0;
  for (char c : stream.substr(prefix.size())) {
    if (c < '0' || c > '9')
      return std::nullopt;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return n;
}

/// The archived runs of `workflow` in `log`, by run number (ascending).
inline result<std::vector<std::uint32_t>>
archived_runs(const eventlog::event_log& log, std::string_view workflow) {
  std::vector<std::uint32_t> out;
  auto prefix = run_stream_prefix(workflow);
  std::string after;
  for (;;) {
    auto page = log.list_prefix(prefix, after, 256);
    if (!page)
      return std::move(page).error();
    for (auto& s : *page)
      if (auto n = run_of_stream(workflow, s.id))
        out.push_back(*n);
    if (page->size() < 256)
      break;
    after = page->back().id;
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// The records of archived run `run` of `workflow` as first stored (the
/// run's own stream seqs and times), then its workflow_continued (with
/// the archive's seq and time). `not_found` when that run is not kept.
inline result<std::vector<eventlog::record>>
read_run(const eventlog::event_log& log, std::string_view workflow,
         std::uint32_t run) {
  auto stream = run_stream(workflow, run);
  auto recs = log.read(stream);
  if (!recs) {
    if (recs.error() == errc::not_found)
      return unexpected{errc::not_found,
                        fmt::format("run {} of workflow '{}' is not kept",
                                    run, workflow)};
    return std::move(recs).error();
  }
  std::vector<eventlog::record> out;
  out.reserve(recs->size());
  for (auto& r : *recs) {
    if (r.kind != eventlog::to_u16(eventlog::record_kind::run_record)) {
      out.push_back(std::move(r));
      continue;
    }
    auto w = codec::decode<run_record>(r.payload);
    if (!w)
      return unexpected{errc::corruption,
                        fmt::format("stream '{}' seq {}: {}", stream, r.seq,
                                    w.error().message())};
    out.push_back({.seq = w->seq,
                   .kind = w->kind,
                   .time = w->time,
                   .writer = std::move(w->writer),
                   .payload = std::move(w->payload.data)});
  }
  return out;
}

} // namespace perdure::records
