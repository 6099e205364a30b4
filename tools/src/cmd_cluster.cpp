// SPDX-License-Identifier: Apache-2.0
// `perdure cluster check BROKERS --app APP`: whether a Kafka cluster's log
// topic `perdure.<APP>.log` fits what perdure's durability needs
// (cluster/kafka_topic_check.hpp): partitions, replication, in-sync
// replicas, `min.insync.replicas`, unclean leader election, retention.
// `perdure cluster status BROKERS --app APP`: each partition's end offset,
// epoch and owner, read from the log's last claim.
// Compiled into the `perdure` program only (cluster/CMakeLists.txt), so
// the perdure_tools library does not depend on the cluster module.

#include "cmd_cluster.hpp"

#include "perdure/cluster/kafka_log.hpp"
#include "perdure/cluster/kafka_topic_check.hpp"
#include "perdure/cluster/log_entry.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace perdure::tools {

namespace {

// What every `perdure cluster` command needs to reach the log topic.
struct reach_args {
  std::string brokers;
  std::string app;
  std::vector<std::string> properties; ///< K=V
  int timeout_ms = 10000;
  bool json = false;
};

struct check_args {
  cluster::kafka_durability_needs needs;
  bool unverified_configs = false;
  int configs_timeout_ms = 10000;
};

int fail(const cli_io& io, exit_code code, const std::string& what) {
  io.err << "perdure: " << what << "\n";
  return static_cast<int>(code);
}

// The log topic open, or the exit code after a one-line error.
std::variant<std::unique_ptr<cluster::kafka_log>, int>
reach(const reach_args& a, const cli_io& io) {
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
  if (log)
    return std::move(*log);
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

int run_check(const reach_args& r, const check_args& a, const cli_io& io) {
  auto reached = reach(r, io);
  if (auto* code = std::get_if<int>(&reached))
    return *code;
  auto& log = std::get<0>(reached);
  auto topic = log->topic();
  auto d = log->describe(std::chrono::milliseconds{r.timeout_ms},
                         std::chrono::milliseconds{a.configs_timeout_ms});
  if (!d)
    return fail(io, exit_code::failed,
                fmt::format("cannot describe {} on {}: {}", topic, r.brokers,
                            d.error().to_string()));
  auto needs = a.needs;
  needs.require_configs = !a.unverified_configs;
  auto problems = cluster::kafka_topic_problems(*d, needs);
  if (r.json) {
    nlohmann::json j{{"topic", d->topic},
                     {"brokers", r.brokers},
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
                          d->topic, r.brokers, d->partitions,
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

// One partition as its log tells it: where it ends and who claimed it
// last (the claim's offset is the epoch every reader applies).
struct partition_status {
  std::int32_t partition = 0;
  cluster::log_offset end = 0;
  std::optional<cluster::log_offset> epoch;
  cluster::node_identity owner;
  std::string door;            ///< the claim's endpoint (may be empty)
  std::uint64_t since = 0;     ///< records after the claim
  std::uint64_t undecoded = 0; ///< records after it that do not decode
  std::string error;           ///< the log could not be read
};

// Reads partition `p` backwards from its end, `chunk` records at a time,
// until the last claim.
partition_status read_status(cluster::partition_log& pl, std::int32_t p,
                             std::chrono::milliseconds wait) {
  constexpr cluster::log_offset chunk = 256;
  partition_status st;
  st.partition = p;
  auto end = pl.end_offset(wait);
  if (!end) {
    st.error = end.error().to_string();
    return st;
  }
  st.end = *end;
  for (auto hi = *end; hi > 0;) {
    auto lo = std::max<cluster::log_offset>(hi - chunk, 0);
    std::vector<cluster::log_record> recs;
    for (auto from = lo; from < hi;) {
      auto got = pl.read(from, static_cast<std::size_t>(hi - from), wait);
      if (!got) {
        // Below the first offset kept: no claim in what is left.
        if (got.error() != errc::not_found)
          st.error = got.error().to_string();
        return st;
      }
      if (got->empty()) {
        st.error = fmt::format("no record at offset {} within {} ms", from,
                               wait.count());
        return st;
      }
      from = got->back().offset + 1;
      for (auto& r : *got)
        if (r.offset < hi)
          recs.push_back(std::move(r));
    }
    for (auto it = recs.rbegin(); it != recs.rend(); ++it) {
      auto e = cluster::decode(it->bytes);
      if (e && std::holds_alternative<cluster::claim_entry>(*e)) {
        st.epoch = it->offset;
        st.owner = std::get<cluster::claim_entry>(*e).claimant;
        st.door = std::get<cluster::claim_entry>(*e).endpoint;
        return st;
      }
      ++st.since;
      st.undecoded += e ? 0 : 1;
    }
    hi = lo;
  }
  return st;
}

int run_status(const reach_args& r, const cli_io& io) {
  auto reached = reach(r, io);
  if (auto* code = std::get_if<int>(&reached))
    return *code;
  auto& log = std::get<0>(reached);
  std::chrono::milliseconds wait{r.timeout_ms};
  std::vector<partition_status> all;
  bool unreadable = false;
  for (std::int32_t p = 0; p < log->partition_count(); ++p) {
    all.push_back(read_status(log->partition(p), p, wait));
    unreadable = unreadable || !all.back().error.empty();
  }
  if (r.json) {
    auto parts = nlohmann::json::array();
    for (auto& st : all)
      parts.push_back(
        {{"partition", st.partition},
         {"end_offset", st.end},
         {"epoch", st.epoch ? nlohmann::json(*st.epoch)
                            : nlohmann::json(nullptr)},
         {"owner", st.epoch ? nlohmann::json(st.owner.node)
                            : nlohmann::json(nullptr)},
         {"incarnation", st.epoch ? nlohmann::json(st.owner.incarnation)
                                  : nlohmann::json(nullptr)},
         {"door", st.door.empty() ? nlohmann::json(nullptr)
                                  : nlohmann::json(st.door)},
         {"records_since_claim", st.since},
         {"undecoded_since_claim", st.undecoded},
         {"error", st.error.empty() ? nlohmann::json(nullptr)
                                    : nlohmann::json(st.error)}});
    io.out << nlohmann::json{{"topic", log->topic()},
                             {"brokers", r.brokers},
                             {"partitions", parts}}
                .dump(2)
           << "\n";
  } else {
    io.out << fmt::format("topic {} on {}: {} partitions\n", log->topic(),
                          r.brokers, all.size());
    for (auto& st : all) {
      auto line = fmt::format("partition {}: end offset {}", st.partition,
                              st.end);
      if (!st.error.empty())
        line += ", unreadable: " + st.error;
      else if (st.epoch)
        line += fmt::format(", epoch {} claimed by {}, {} records since",
                            *st.epoch, cluster::to_string(st.owner),
                            st.since);
      else
        line += ", never claimed";
      if (st.undecoded > 0)
        line += fmt::format(" ({} do not decode)", st.undecoded);
      if (!st.door.empty())
        line += ", door " + st.door;
      io.out << line << "\n";
    }
  }
  return static_cast<int>(unreadable ? exit_code::failed : exit_code::ok);
}

} // namespace

int run_cluster_cli(int argc, const char* const* argv, const cli_io& io) {
  CLI::App app{"perdure cluster: perdure's partitions on Kafka "
               "(docs/cluster.md).",
               "perdure cluster"};
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 usage, 2 no such topic, 5 the topic "
             "falls short (check: each problem printed), 6 Kafka "
             "unreachable or a partition unreadable.");
  reach_args r;
  check_args a;
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("brokers", r.brokers, "bootstrap servers host:port,...")
      ->required();
    cmd->add_option("--app", r.app, "the application (perdure.<APP>.log)")
      ->required();
    cmd->add_option("--property", r.properties,
                    "a librdkafka property KEY=VALUE (security.protocol, "
                    "sasl.*, ...); repeatable")
      ->allow_extra_args(false);
    cmd->add_option("--timeout-ms", r.timeout_ms,
                    "how long to wait for the brokers")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
    cmd->add_flag("--json", r.json, "print the result as JSON");
  };
  auto* check = app.add_subcommand(
    "check", "verify that a Kafka cluster's log topic perdure.<APP>.log "
             "fits perdure's durability needs");
  common(check);
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
  check->add_option("--configs-timeout-ms", a.configs_timeout_ms,
                    "how long to wait for DescribeConfigs (a broker "
                    "that never answers it costs that long)")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  auto* status = app.add_subcommand(
    "status", "each partition of the log: its end offset, its epoch (the "
              "last claim's offset) and the node that claimed it");
  common(status);
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
  return status->parsed() ? run_status(r, io) : run_check(r, a, io);
}

} // namespace perdure::tools
