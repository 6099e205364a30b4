// SPDX-License-Identifier: Apache-2.0
// perdure-bench-node: one cluster node with its engines (engine_host) as a
// process, for perdure-bench cluster-throughput and cluster-failover. It
// runs load on the partitions it leads: callers start one-step workflows
// whose ids live in those partitions (what a router sending each id to its
// owner gives).
//
//   perdure-bench-node --brokers B --app A --id ID --dir D [--callers N]
//                      [--fetch-wait-ms N] [--session-ms N]
//                      [--heartbeat-ms N] [--probe-log FILE]
//                      [--log FILE]  (the node's log, info and above)
//                      [--group-debug 0|1]  (librdkafka's debug=cgrp on
//                      the group consumer, its lines in --log too)
//                      [--serve ADDRESS]  (the door, e.g. 127.0.0.1:0;
//                      default none: no forwarding, no take-over)
//                      [--take-over 0|1]  (engine_host_options::
//                      take_over_gone_owners, default 1)
//                      [--suspect-ms N]  (engine_host_options::
//                      suspect_after, default 2000; 0: no pings)
//                      [--standbys K]  (node_options::standby_replicas;
//                      default: every node tails every partition)
//
// --probe-log: a thread per partition runs a one-step workflow in that
// partition every 20 ms while this node has its engine, and appends
// "PARTITION MONOTONIC_NS" to FILE for each that succeeded (the
// failover benchmark reads when each partition was served, from every
// node; CLOCK_MONOTONIC is the same clock in every process).
//
// Commands on stdin, one answer line each on stdout:
//   running  -> "running K" (partitions with an open engine here)
//   list     -> "list P1 P2 ..." (those partitions)
//   assigned -> "assigned P1 P2 ..." (the group assigned them here)
//   go MS    -> runs the load for MS milliseconds, then "done WORKFLOWS
//               ERRORS P50_US P99_US CPU_US" (CPU: this process's user +
//               system time during the load)
//   quit     -> stops the host (engines, then the node), "bye", exit 0
// End of input quits too. Errors go to stderr.

#include "perdure/cluster/engine_host.hpp"

#include <perdure/perdure.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace std::chrono_literals;

namespace {

const auto bn_inc = step("bench_node_inc", [](int x) { return x + 1; });

void say(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

double cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto us = [](const timeval& t) { return t.tv_sec * 1e6 + t.tv_usec; };
  return us(u.ru_utime) + us(u.ru_stime);
}

struct caller_figures {
  long done = 0;
  long errors = 0;
  std::vector<std::int64_t> ns;
};

// One caller: workflows with ids of this node's partitions until `stop`.
void caller(const engine_host& host, const std::string& prefix,
            const std::atomic<bool>& stop, caller_figures& f) {
  long k = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    auto id = prefix + std::to_string(k++);
    auto eng = host.engine_of(host.routing().partition_of(id));
    if (!eng)
      continue; // lives elsewhere
    auto t0 = std::chrono::steady_clock::now();
    auto r = eng->try_run(bn_inc(static_cast<int>(k)), id);
    f.ns.push_back((std::chrono::steady_clock::now() - t0).count());
    if (r && *r == static_cast<int>(k) + 1)
      ++f.done;
    else
      ++f.errors;
  }
}

std::string load(const engine_host& host, const std::string& node,
                 int callers, long ms) {
  std::atomic<bool> stop{false};
  std::vector<caller_figures> figs(static_cast<std::size_t>(callers));
  std::vector<std::thread> threads;
  auto cpu0 = cpu_us();
  for (int c = 0; c < callers; ++c)
    threads.emplace_back([&, c] {
      caller(host, node + "-" + std::to_string(c) + "-", stop,
             figs[static_cast<std::size_t>(c)]);
    });
  std::this_thread::sleep_for(std::chrono::milliseconds{ms});
  stop = true;
  for (auto& t : threads)
    t.join();
  auto cpu = cpu_us() - cpu0;
  caller_figures all;
  for (auto& f : figs) {
    all.done += f.done;
    all.errors += f.errors;
    all.ns.insert(all.ns.end(), f.ns.begin(), f.ns.end());
  }
  std::sort(all.ns.begin(), all.ns.end());
  auto q = [&](double x) {
    if (all.ns.empty())
      return 0.0;
    auto i = static_cast<std::size_t>(x * static_cast<double>(all.ns.size()
                                                              - 1));
    return static_cast<double>(all.ns[i]) / 1000.0;
  };
  return "done " + std::to_string(all.done) + " "
         + std::to_string(all.errors) + " " + std::to_string(q(0.5)) + " "
         + std::to_string(q(0.99)) + " " + std::to_string(cpu);
}

// Probes every partition while --probe-log is set (see the header).
class prober {
 public:
  prober(const engine_host& host, const std::string& node,
         const std::string& file)
    : out_{file, std::ios::app} {
    auto parts = host.routing().partitions();
    for (partition_id p = 0; p < parts; ++p)
      threads_.emplace_back([this, &host, node, p] { probe(host, node, p); });
  }
  ~prober() {
    stop_ = true;
    for (auto& t : threads_)
      t.join();
  }
  prober(const prober&) = delete;
  prober& operator=(const prober&) = delete;

 private:
  void probe(const engine_host& host, const std::string& node,
             partition_id p) {
    long k = 0;
    auto next_id = [&] {
      for (;;) {
        auto id = "probe-" + node + "-" + std::to_string(k++);
        if (host.routing().partition_of(id) == p)
          return id;
      }
    };
    while (!stop_.load(std::memory_order_relaxed)) {
      if (auto eng = host.engine_of(p)) {
        auto id = next_id();
        auto r = eng->try_run(bn_inc(7), id);
        if (r && *r == 8) {
          auto ns = std::chrono::steady_clock::now().time_since_epoch();
          std::lock_guard guard{mutex_};
          out_ << p << ' '
               << std::chrono::duration_cast<std::chrono::nanoseconds>(ns)
                    .count()
               << '\n'
               << std::flush;
        }
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  std::mutex mutex_;
  std::ofstream out_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// --log FILE: the node's info lines and above, each "MONOTONIC_NS LEVEL
// TEXT" (the failover benchmark prints their tails when a round misses its
// deadline).
class log_file {
 public:
  explicit log_file(const std::string& path) : out_{path, std::ios::app} {}
  void line(eventlog::log_level l, std::string_view text) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::steady_clock::now().time_since_epoch())
                .count();
    std::lock_guard guard{mutex_};
    out_ << ns << ' ' << eventlog::to_string(l) << ' ' << text << '\n'
         << std::flush;
  }

 private:
  std::mutex mutex_;
  std::ofstream out_;
};

std::shared_ptr<log_file> node_log(const std::string& path) {
  return path.empty() ? nullptr : std::make_shared<log_file>(path);
}

std::string arg_or(std::map<std::string, std::string>& args,
                   const std::string& key, const std::string& fallback) {
  auto it = args.find(key);
  return it == args.end() ? fallback : it->second;
}

} // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2)
    args[argv[i]] = argv[i + 1];
  for (auto* need : {"--brokers", "--app", "--id", "--dir"})
    if (!args.count(need)) {
      std::fputs("usage: perdure-bench-node --brokers B --app A --id ID "
                 "--dir D [--callers N] [--fetch-wait-ms N] "
                 "[--session-ms N] [--heartbeat-ms N] [--probe-log FILE] "
                 "[--serve ADDRESS] [--take-over 0|1] "
                 "[--suspect-ms N] [--log FILE] [--group-debug 0|1] "
                 "[--standbys K]\n",
                 stderr);
      return 2;
    }
  int callers = args.count("--callers") ? std::stoi(args["--callers"]) : 16;
  bool group_debug = arg_or(args, "--group-debug", "0") == "1";
  engine_host_options o;
  o.node.log = {.brokers = args["--brokers"],
                .app = args["--app"],
                .properties = {{"fetch.wait.max.ms",
                                arg_or(args, "--fetch-wait-ms", "1")}},
                .log = [file = node_log(arg_or(args, "--log", "")),
                        group_debug](eventlog::log_level l,
                                     std::string_view text) {
                  if (l >= eventlog::log_level::warning)
                    std::cerr << text << '\n';
                  if (file && (l >= eventlog::log_level::info || group_debug))
                    file->line(l, text);
                }};
  o.node.node_id = args["--id"];
  o.serve_address = arg_or(args, "--serve", "");
  o.take_over_gone_owners = arg_or(args, "--take-over", "1") == "1";
  o.suspect_after =
    std::chrono::milliseconds{std::stoll(arg_or(args, "--suspect-ms", "2000"))};
  o.node.topic_configs_wait = {}; // the mock answers no DescribeConfigs
  o.node.store.dir = args["--dir"];
  if (args.count("--standbys"))
    o.node.standby_replicas = std::stoul(args["--standbys"]);
  o.node.group_properties = {
    {"session.timeout.ms", arg_or(args, "--session-ms", "3000")},
    {"heartbeat.interval.ms", arg_or(args, "--heartbeat-ms", "1000")}};
  if (group_debug)
    o.node.group_properties["debug"] = "cgrp";
  auto host = engine_host::start(std::move(o));
  if (!host) {
    std::cerr << "perdure-bench-node: " << host.error().to_string() << '\n';
    return 1;
  }
  std::optional<prober> probes;
  if (args.count("--probe-log"))
    probes.emplace(**host, args["--id"], args["--probe-log"]);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "running") {
      say("running " + std::to_string((*host)->running().size()));
    } else if (line == "list") {
      std::string list = "list";
      for (auto p : (*host)->running())
        list += " " + std::to_string(p);
      say(list);
    } else if (line == "assigned") {
      std::string list = "assigned";
      for (auto& s : (*host)->cluster_node().partitions())
        if (s.assigned)
          list += " " + std::to_string(s.partition);
      say(list);
    } else if (line.rfind("go ", 0) == 0) {
      say(load(**host, args["--id"], callers, std::stol(line.substr(3))));
    } else if (line == "quit") {
      break;
    } else {
      say("error: unknown command");
    }
  }
  // The probes go on through the stop: the failover benchmark sees when
  // this node's partitions stop being served here.
  (*host)->stop();
  probes.reset();
  say("bye");
  return 0;
}
