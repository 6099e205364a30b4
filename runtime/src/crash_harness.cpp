// SPDX-License-Identifier: Apache-2.0
#include "perdure/runtime/crash_harness.hpp"

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/write_batch.hpp"

#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

namespace perdure::testing::detail {

namespace {

std::filesystem::path make_work_dir(const crash_options& opts) {
  if (!opts.work_dir.empty()) {
    std::filesystem::create_directories(opts.work_dir);
    return opts.work_dir;
  }
  auto tmpl = (std::filesystem::temp_directory_path() / "perdure-crash-XXXXXX")
                .string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("perdure crash harness: mkdtemp failed");
  return tmpl;
}

// The prefixes to try: all of 0..n, or `most` of them evenly spread with the
// first and the last included.
std::vector<std::size_t> pick_prefixes(std::size_t n, std::size_t most) {
  std::vector<std::size_t> out;
  if (most == 0 || most > n + 1) {
    for (std::size_t k = 0; k <= n; ++k)
      out.push_back(k);
    return out;
  }
  for (std::size_t i = 0; i < most; ++i) {
    auto k = most == 1 ? n : i * n / (most - 1);
    if (out.empty() || out.back() != k)
      out.push_back(k);
  }
  return out;
}

// Writes the first `k` recorded batches into a fresh log at `dir`.
status rebuild(const std::filesystem::path& dir,
               const std::vector<eventlog::write_batch>& writes, std::size_t k,
               eventlog::durability mode) {
  eventlog::options lo;
  lo.dir = dir;
  lo.mode = mode;
  lo.writer_id = "perdure-crash-harness";
  auto log = eventlog::event_log::open(lo);
  if (!log)
    return log.error();
  for (std::size_t i = 0; i < k; ++i)
    if (auto r = (*log)->commit(writes[i]); !r)
      return {r.error().code(), fmt::format("replaying write {}: {}", i + 1,
                                            r.error().message())};
  return {};
}

} // namespace

crash_report run_crash_harness(
  const std::string& id, const crash_options& opts,
  const std::function<result<std::string>(engine&, const std::string&)>& run,
  const std::function<result<std::string>(engine&, const std::string&)>&
    resume) {
  crash_report report;
  auto work = make_work_dir(opts);
  std::error_code ec;

  // The reference run records every committed batch in commit order.
  std::mutex mu;
  std::vector<eventlog::write_batch> writes;
  std::string expected;
  {
    auto dir = work / "reference";
    std::filesystem::remove_all(dir, ec);
    engine_options eo;
    eo.storage = dir;
    eo.durability = opts.durability;
    eo.capacity = opts.capacity;
    eo.on_write = [&](const eventlog::write_batch& b) {
      std::lock_guard<std::mutex> guard{mu};
      writes.push_back(b);
    };
    auto eng = engine::open(eo);
    if (!eng) {
      report.failures.push_back("reference run: " + eng.error().to_string());
      return report;
    }
    auto out = run(**eng, id);
    if (!out) {
      report.failures.push_back("reference run: " + out.error().to_string());
      return report;
    }
    expected = std::move(*out);
    eng->reset(); // stop the engine before reading `writes` unguarded
    std::filesystem::remove_all(dir, ec);
  }
  report.writes = writes.size();

  for (auto k : pick_prefixes(writes.size(), opts.max_prefixes)) {
    ++report.prefixes;
    auto where = fmt::format("prefix {} of {}", k, writes.size());
    auto dir = work / fmt::format("prefix-{}", k);
    std::filesystem::remove_all(dir, ec);
    if (auto st = rebuild(dir, writes, k, opts.durability); !st) {
      report.failures.push_back(where + ": " + st.to_string());
      continue;
    }
    engine_options eo;
    eo.storage = dir;
    eo.durability = opts.durability;
    eo.capacity = opts.capacity;
    auto eng = engine::open(eo);
    if (!eng) {
      report.failures.push_back(where + ": opening: " + eng.error().to_string());
      continue;
    }
    auto known = (*eng)->try_status(id);
    if (!known) {
      // Before the submission is durable the id must be cleanly unknown.
      if (known.error().code() == errc::not_found)
        ++report.not_found;
      else
        report.failures.push_back(where + ": status: "
                                  + known.error().to_string());
    } else if (auto out = resume(**eng, id); !out) {
      report.failures.push_back(where + ": resume: " + out.error().to_string());
    } else if (*out != expected) {
      report.failures.push_back(where + ": resumed to a different output");
    } else {
      ++report.resumed;
    }
    eng->reset();
    std::filesystem::remove_all(dir, ec);
  }
  if (opts.work_dir.empty())
    std::filesystem::remove_all(work, ec);
  return report;
}

} // namespace perdure::testing::detail
