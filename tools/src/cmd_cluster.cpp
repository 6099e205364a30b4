// SPDX-License-Identifier: Apache-2.0
// `perdure cluster check BROKERS --app APP`: whether a Kafka cluster's log
// topic `perdure.<APP>.log` fits what perdure's durability needs
// (cluster/kafka_topic_check.hpp): partitions, replication, in-sync
// replicas, `min.insync.replicas`, unclean leader election, retention.
// Compiled into the `perdure` program only (cluster/CMakeLists.txt), so
// the perdure_tools library does not depend on the cluster module.

#include "cmd_cluster.hpp"

#include "perdure/cluster/kafka_log.hpp"
#include "perdure/cluster/kafka_topic_check.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace perdure::tools {

namespace {

struct check_args {
  std::string brokers;
  std::string app;
  cluster::kafka_durability_needs needs;
  bool unverified_configs = false;
  std::vector<std::string> properties; ///< K=V
  int timeout_ms = 10000;
  int configs_timeout_ms = 10000;
  bool json = false;
};

int fail(const cli_io& io, exit_code code, const std::string& what) {
  io.err << "perdure: " << what << "\n";
  return static_cast<int>(code);
}

int run_check(const check_args& a, const cli_io& io) {
  cluster::kafka_log_options o;
  o.brokers = a.brokers;
  o.app = a.app;
  for (auto& kv : a.properties) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail(io, exit_code::usage,
                  fmt::format("--property '{}': expected KEY=VALUE", kv));
    o.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  o.open_timeout = std::chrono::milliseconds{a.timeout_ms};
  o.log = [](eventlog::log_level, std::string_view) {};
  auto topic = cluster::kafka_log_topic(a.app);
  auto log = cluster::kafka_log::open(std::move(o));
  if (!log) {
    auto& e = log.error();
    if (e == errc::not_found)
      return fail(io, exit_code::not_found,
                  fmt::format("no topic {} on {}: {} (create it with the "
                              "settings docs/cluster.md names)",
                              topic, a.brokers, e.message()));
    return fail(io, e == errc::invalid_argument ? exit_code::usage
                                                : exit_code::failed,
                fmt::format("cannot reach {} on {}: {}", topic, a.brokers,
                            e.to_string()));
  }
  auto d = (*log)->describe(std::chrono::milliseconds{a.timeout_ms},
                            std::chrono::milliseconds{a.configs_timeout_ms});
  if (!d)
    return fail(io, exit_code::failed,
                fmt::format("cannot describe {} on {}: {}", topic, a.brokers,
                            d.error().to_string()));
  auto needs = a.needs;
  needs.require_configs = !a.unverified_configs;
  auto problems = cluster::kafka_topic_problems(*d, needs);
  if (a.json) {
    nlohmann::json j{{"topic", d->topic},
                     {"brokers", a.brokers},
                     {"partitions", d->partitions},
                     {"replication_factor", d->replication_factor},
                     {"fewest_in_sync", d->fewest_in_sync},
                     {"configs", d->configs ? nlohmann::json(*d->configs)
                                            : nlohmann::json(nullptr)},
                     {"configs_error", d->configs_error},
                     {"problems", problems},
                     {"ok", problems.empty()}};
    io.out << j.dump(2) << "\n";
  } else {
    io.out << fmt::format("topic {} on {}: {} partitions, replication "
                          "factor {}, fewest in sync {}\n",
                          d->topic, a.brokers, d->partitions,
                          d->replication_factor, d->fewest_in_sync);
    if (!d->configs)
      io.out << fmt::format("configs: not read ({}){}\n", d->configs_error,
                            a.unverified_configs
                              ? "; not verified (--unverified-configs)"
                              : "");
    for (auto& p : problems)
      io.out << "problem: " << p << "\n";
    io.out << (problems.empty()
                 ? "ok: the topic fits perdure's durability needs\n"
                 : fmt::format("{} problem(s): acknowledged groups could "
                               "be lost with this topic\n",
                               problems.size()));
  }
  return static_cast<int>(problems.empty() ? exit_code::ok
                                           : exit_code::refused);
}

} // namespace

int run_cluster_cli(int argc, const char* const* argv, const cli_io& io) {
  CLI::App app{"perdure cluster: perdure's partitions on Kafka "
               "(docs/cluster.md).",
               "perdure cluster"};
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 usage, 2 no such topic, 5 the topic "
             "falls short (each problem printed), 6 Kafka unreachable.");
  check_args a;
  auto* check = app.add_subcommand(
    "check", "verify that a Kafka cluster's log topic perdure.<APP>.log "
             "fits perdure's durability needs");
  check->add_option("brokers", a.brokers, "bootstrap servers host:port,...")
    ->required();
  check->add_option("--app", a.app, "the application (perdure.<APP>.log)")
    ->required();
  check->add_option("--partitions", a.needs.partitions,
                    "the partition count the cluster was created with "
                    "(0: any)")
    ->check(CLI::NonNegativeNumber);
  check->add_option("--min-replication", a.needs.min_replication_factor,
                    "replicas each partition needs")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  check->add_option("--min-insync", a.needs.min_insync_replicas,
                    "the min.insync.replicas the topic needs")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  check->add_flag("--allow-limited-retention",
                  a.needs.allow_limited_retention,
                  "accept retention.ms / retention.bytes other than -1");
  check->add_flag("--unverified-configs", a.unverified_configs,
                  "pass when the brokers answer no DescribeConfigs (e.g. "
                  "librdkafka's mock): configs then go unchecked");
  check->add_option("--property", a.properties,
                    "a librdkafka property KEY=VALUE (security.protocol, "
                    "sasl.*, ...); repeatable")
    ->allow_extra_args(false);
  check->add_option("--timeout-ms", a.timeout_ms,
                    "how long to wait for the brokers")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  check->add_option("--configs-timeout-ms", a.configs_timeout_ms,
                    "how long to wait for DescribeConfigs (a broker "
                    "that never answers it costs that long)")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  check->add_flag("--json", a.json, "print the result as JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) { // --help
      io.out << app.help() << std::flush; // the chosen subcommand's help
      return 0;
    }
    return fail(io, exit_code::usage,
                fmt::format("{} (try 'perdure cluster --help')", e.what()));
  }
  return run_check(a, io);
}

} // namespace perdure::tools
