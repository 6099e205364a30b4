// SPDX-License-Identifier: Apache-2.0
// perdure-bench: `--list`, or `WORKLOAD [--durability sync|process]
// [--sync journal|pipelined|per_commit] [--json] [--seconds S] [--dir DIR]
// [--writeback-ms N] [--checkpoint-ms N]`. A workload that throws, or whose
// `correct` figure is 0, fails the run (exit 1) with a message.

#include "bench.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

namespace perdure::bench {

namespace {

std::vector<workload>& registry() {
  static std::vector<workload> all;
  return all;
}

// What a run left on disk, in MiB: the blocks its files hold (a sparse file
// counts what it holds, not its length) — all of them, and LMDB's data files
// alone (the journal's files are preallocated).
struct storage_use {
  double all_mib = 0;
  double data_mib = 0;
};

storage_use storage_of(const std::filesystem::path& dir) {
  std::uint64_t all = 0, data = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    auto held = static_cast<std::uint64_t>(st.st_blocks) * 512;
    all += held;
    if (it->path().filename() == "data.mdb")
      data += held;
  }
  constexpr double mib = 1024.0 * 1024.0;
  return {static_cast<double>(all) / mib, static_cast<double>(data) / mib};
}

int usage() {
  std::fprintf(stderr,
               "usage: perdure-bench --list\n"
               "       perdure-bench WORKLOAD [--durability sync|process] "
               "[--sync journal|pipelined|per_commit] [--json] [--seconds S] "
               "[--dir DIR] [--writeback-ms N] [--checkpoint-ms N]\n");
  return 2;
}

std::string json_number(double v) {
  if (!std::isfinite(v))
    return "null";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{:.4g}", v);
}

} // namespace

double figures::get(const std::string& key) const {
  for (auto& [k, v] : items_)
    if (k == key)
      return v;
  return NAN;
}

void add_checkpoint_figures(figures& f, const eventlog::log_stats& st,
                            double elapsed, const std::string& prefix) {
  f.add(prefix + "checkpoints_per_s",
        static_cast<double>(st.checkpoints) / elapsed);
  if (st.checkpoints == 0)
    return;
  f.add(prefix + "checkpoint_mean_ms",
        static_cast<double>(st.checkpoint_ns_total)
          / static_cast<double>(st.checkpoints) / 1e6);
  f.add(prefix + "checkpoint_max_ms",
        static_cast<double>(st.checkpoint_ns_max) / 1e6);
}

bool register_workload(workload w) {
  registry().push_back(std::move(w));
  return true;
}

const std::vector<workload>& workloads() {
  auto& all = registry();
  std::sort(all.begin(), all.end(),
            [](const workload& a, const workload& b) { return a.name < b.name; });
  return all;
}

double latencies::quantile_us(double q) {
  if (ns_.empty())
    return NAN;
  if (!sorted_) {
    std::sort(ns_.begin(), ns_.end());
    sorted_ = true;
  }
  auto idx = static_cast<std::size_t>(q * static_cast<double>(ns_.size() - 1));
  return static_cast<double>(ns_[idx]) / 1000.0;
}

} // namespace perdure::bench

int main(int argc, char** argv) {
  using namespace perdure::bench;
  if (argc < 2)
    return usage();
  std::string_view first = argv[1];
  if (first == "--list") {
    for (auto& w : workloads())
      std::printf("%-16s %s\n", w.name.c_str(), w.description.c_str());
    return 0;
  }
  bench_options opts;
  bool json = false;
  std::filesystem::path base;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--durability" && i + 1 < argc) {
      std::string_view m = argv[++i];
      if (m == "sync")
        opts.mode = perdure::eventlog::durability::sync;
      else if (m == "process")
        opts.mode = perdure::eventlog::durability::process;
      else
        return usage();
    } else if (a == "--sync" && i + 1 < argc) {
      std::string_view m = argv[++i];
      if (m == "journal")
        opts.sync = perdure::eventlog::sync_policy::journal;
      else if (m == "pipelined")
        opts.sync = perdure::eventlog::sync_policy::pipelined;
      else if (m == "per_commit")
        opts.sync = perdure::eventlog::sync_policy::per_commit;
      else
        return usage();
    } else if (a == "--writeback-ms" && i + 1 < argc) {
      opts.writeback = std::chrono::milliseconds{std::atoi(argv[++i])};
    } else if (a == "--checkpoint-ms" && i + 1 < argc) {
      opts.checkpoint = std::chrono::milliseconds{std::atoi(argv[++i])};
      if (opts.checkpoint.count() <= 0)
        return usage();
    } else if (a == "--seconds" && i + 1 < argc) {
      opts.seconds = std::atof(argv[++i]);
      if (opts.seconds <= 0)
        return usage();
    } else if (a == "--dir" && i + 1 < argc) {
      base = argv[++i];
    } else {
      return usage();
    }
  }
  auto& all = workloads();
  auto it = std::find_if(all.begin(), all.end(),
                         [&](const workload& w) { return w.name == first; });
  if (it == all.end()) {
    std::fprintf(stderr, "perdure-bench: unknown workload '%s' (see --list)\n",
                 argv[1]);
    return 2;
  }
  if (base.empty())
    base = std::filesystem::temp_directory_path();
  auto tmpl = (base / "perdure-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  opts.dir = tmpl;
  figures figs;
  try {
    figs = it->run(opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "perdure-bench: %s failed: %s\n", it->name.c_str(),
                 e.what());
    std::error_code ec;
    std::filesystem::remove_all(opts.dir, ec);
    return 1;
  }
  auto use = storage_of(opts.dir);
  figs.add("storage_mib", use.all_mib);
  figs.add("data_mdb_mib", use.data_mib);
  std::error_code ec;
  std::filesystem::remove_all(opts.dir, ec);
  auto mode = opts.mode == perdure::eventlog::durability::sync ? "sync" : "process";
  if (json) {
    std::string out = fmt::format("{{\"workload\":\"{}\",\"durability\":\"{}\"",
                                  it->name, mode);
    for (auto& [k, v] : figs.items())
      out += fmt::format(",\"{}\":{}", k, json_number(v));
    out += "}";
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("%s (%s)\n", it->name.c_str(), mode);
    for (auto& [k, v] : figs.items())
      std::printf("  %-36s %s\n", k.c_str(), json_number(v).c_str());
  }
  if (figs.get("correct") == 0) {
    std::fprintf(stderr, "perdure-bench: %s: wrong result (correct = 0)\n",
                 it->name.c_str());
    return 1;
  }
  return 0;
}
