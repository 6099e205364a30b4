// SPDX-License-Identifier: Apache-2.0
// perdure-cluster-engine-node: one engine_host as a process, for
// perdure-cluster-engine-torture. Its workflows are chains of `steps`
// steps, the last two in a child workflow (of another partition for most
// ids); each step body appends "X WF K EXEC EPOCH" to the shared effects
// file when it starts (O_APPEND: one order of lines across the
// processes), EXEC naming this execution uniquely and EPOCH the epoch its
// engine serves (engine_host::epoch_of; -1 when the host already let the
// engine go), and returns its input + "|" + EXEC. So a workflow's output
// names the execution of each step its log kept.
//
//   perdure-cluster-engine-node --brokers B --app A --id ID --dir D
//       --effects FILE [--session-timeout-ms N] [--heartbeat-ms N]
//       [--serve ADDRESS]   (its door; default 127.0.0.1:0, "none": no
//                            door, so no take-over: only the group moves
//                            partitions)
//       [--standbys K]      (node_options::standby_replicas)
//       [--feed TOPIC]      (a cluster feed of TOPIC, consumer group
//                            APP-feed: record (key K, value N) calls
//                            add(N) on tally actor K, kafka_feed.hpp)
//
// Commands on stdin, answers on stdout:
//   start FROM TO  -> starts workflows w-FROM .. w-(TO-1) that live in a
//                     partition with an engine here (others skipped; an id
//                     already stored is left as it is): "started N"
//   check FROM TO  -> for each such id here: "out ID OUTPUT" once it
//                     succeeded, "open ID STATUS" otherwise, and "copen
//                     CID STATUS" for a child here that did not succeed
//                     (yet); then "checked"
//   fstart FROM TO -> starts w-FROM .. w-(TO-1) wherever they live
//                     (engine_host::try_start, forwarded to the owner's
//                     door): "err ID ERROR" for each that failed, then
//                     "fstarted N"
//   fcheck FROM TO -> for every id, wherever it lives (forwarded to its
//                     owner's door): "out ID OUTPUT" or "err ID CODE";
//                     then "fchecked"
//   acall R ID...  -> calls relay(R) on every tally actor ID ("a-I"),
//                     which calls add(R) on tally "m-I" first, wherever
//                     each lives (host_actor, key "ID.rR"), 4 at a time, on a
//                     thread of its own (other commands are answered
//                     meanwhile): "aok ID N" (N: its rounds applied, this
//                     one included) or "aerr ID CODE: MESSAGE" each; then
//                     "acalled"
//   aget ID...     -> each actor's rounds: "aval ID R1,R2,..." ("-" for
//                     none) or "aerr ID ERROR"; then "agot"
//   running        -> "running P..." (partitions with an engine here)
//   quit           -> stops the host, "bye"
// It prints "ready" once started. Errors go to stderr (and the node's
// info lines too when PERDURE_NODE_LOG_INFO is set).

#include "perdure/cluster/actor_calls.hpp"
#include "perdure/cluster/engine_host.hpp"
#include "perdure/cluster/kafka_actors.hpp"

#include <perdure/perdure.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;

namespace {

constexpr int steps = 4;
int effects_fd = -1;
// Set once the host started (a body resumed on a claim may start first:
// it waits for it).
std::atomic<const engine_host*> the_host{nullptr};
std::string exec_prefix; // "NODE.PID."
std::atomic<long> exec_seq{0};

void effect(const std::string& wf, int k, const std::string& e,
            log_offset epoch) {
  auto line = "X " + wf + " " + std::to_string(k) + " " + e + " "
              + std::to_string(epoch) + "\n";
  // One write of a short line to an O_APPEND file: whole, in one order.
  if (::write(effects_fd, line.data(), line.size())
      != static_cast<ssize_t>(line.size())) {
    std::perror("perdure-cluster-engine-node: effects");
    std::_Exit(3);
  }
}

const auto cet_step =
  step("cet_step", [](std::string in, std::string wf, int k) {
    auto e = exec_prefix + std::to_string(++exec_seq);
    const engine_host* host = nullptr;
    while (!(host = the_host.load()))
      std::this_thread::yield();
    auto epoch = host->epoch_of(this_step::engine());
    effect(wf, k, e, epoch ? *epoch : -1);
    return in + "|" + e;
  });

const auto cet_join = step("cet_join", [](std::string a, std::string b) {
  return a + b;
});

// Steps 1 and 2 run in workflow `wf`; steps 3.. in its child workflow
// "c" + wf, which for most ids lives in another partition (a child of
// another partition: engine_options::remote, started and followed through
// the hosts). The output names every step's execution in order.
workflow<std::string> chain(const std::string& wf) {
  constexpr int here = 2;
  auto w = cet_step(std::string{}, wf, 1);
  for (int k = 2; k <= here; ++k)
    w = cet_step(w, wf, k);
  auto c = cet_step(std::string{}, wf, here + 1);
  for (int k = here + 2; k <= steps; ++k)
    c = cet_step(c, wf, k);
  return cet_join(w, child(c, "c" + wf));
}

// The torture's actor: the rounds applied to it, in order.
struct tally {
  std::vector<int> rounds;
  int add(int round) {
    rounds.push_back(round);
    return static_cast<int>(rounds.size());
  }
  /// add(round), after calling add(round) on tally `mirror` (wherever it
  /// lives: mostly another partition's owner), with this call's key, and
  /// telling add(round) to tally "t-I" (mirror "m-I"): sent after this
  /// call is logged, applied once.
  int relay(int round, std::string mirror) {
    this_step::engine().actor<tally>(mirror).call(&tally::add, round);
    // Asked again, not kept from before the call: a stop that abandoned
    // this method while it waited may have destroyed that engine (this
    // then throws closed).
    if (auto st = this_step::engine()
                    .actor<tally>("t" + mirror.substr(1))
                    .tell(&tally::add, round);
        !st)
      throw std::runtime_error{st.to_string()};
    return add(round);
  }
  std::vector<int> get() const {
    return rounds;
  }
};
PERDURE_ACTOR(tally, (rounds), (add, relay, get))

// One whole line at a time: acall answers from its own thread.
std::mutex say_mutex;
void say(const std::string& line) {
  std::lock_guard guard{say_mutex};
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string wf_id(long i) {
  return "w-" + std::to_string(i);
}

// The engine here that runs `id`, or null.
std::shared_ptr<engine> here(const engine_host& host, const std::string& id) {
  return host.engine_of(host.routing().partition_of(id));
}

void start(const engine_host& host, long from, long to) {
  long n = 0;
  for (long i = from; i < to; ++i) {
    auto id = wf_id(i);
    auto eng = here(host, id);
    if (!eng || eng->try_status(id))
      continue; // elsewhere, or stored (running, resumed or done)
    if (eng->try_run_async(chain(id), id))
      ++n;
  }
  say("started " + std::to_string(n));
}

void check(const engine_host& host, long from, long to) {
  for (long i = from; i < to; ++i) {
    auto id = wf_id(i);
    // A child here that did not succeed (yet): for the driver's report.
    if (auto ce = here(host, "c" + id)) {
      auto cs = ce->try_status("c" + id);
      if (cs && *cs != workflow_status::successful)
        say("copen c" + id + " " + std::string{to_string(*cs)});
    }
    auto eng = here(host, id);
    if (!eng)
      continue;
    auto st = eng->try_status(id);
    if (!st)
      continue; // not started here yet
    if (*st == workflow_status::successful) {
      auto out = eng->try_output<std::string>(id);
      if (out)
        say("out " + id + " " + *out);
    } else {
      auto m = eng->try_metadata(id);
      say("open " + id + " " + std::string{to_string(*st)}
          + (m && !m->error_text.empty() ? " " + m->error_text : ""));
    }
  }
  say("checked");
}

// Starts every id through the host (forwarded to the owner's door where
// this node does not lead it; an id stored already is left as it is), 8
// at a time: each start is answered once stored, and the slice's steps
// should all be in flight soon after, as with local starts.
void fstart(engine_host& host, long from, long to) {
  std::atomic<long> next{from}, n{0};
  std::mutex mu;
  std::vector<std::string> failed;
  std::vector<std::thread> workers;
  for (int w = 0; w < 8; ++w)
    workers.emplace_back([&] {
      for (long i; (i = next++) < to;) {
        auto id = wf_id(i);
        auto st = host.try_start(chain(id), id);
        if (st) {
          ++n;
        } else {
          std::lock_guard guard{mu};
          failed.push_back(id + " " + st.to_string());
        }
      }
    });
  for (auto& t : workers)
    t.join();
  for (auto& f : failed)
    say("err " + f);
  say("fstarted " + std::to_string(n.load()));
}

// Asks for every id through the host (forwarded to the owner's door
// where this node does not lead it).
void fcheck(engine_host& host, long from, long to) {
  for (long i = from; i < to; ++i) {
    auto id = wf_id(i);
    auto out = host.try_output<std::string>(id);
    if (out)
      say("out " + id + " " + *out);
    else
      say("err " + id + " " + std::string{to_string(out.error().code())});
  }
  say("fchecked");
}

// "m-I" for tally "a-I": the one its relay calls.
std::string mirror_of(const std::string& id) {
  return "m-" + id.substr(id.find('-') + 1);
}

// Calls round `round` on every actor of `ids` through the host (forwarded
// to each one's owner), 4 at a time; the key makes a call tried again
// (here by the forward, or by the driver through another node) run once,
// and its mirror's call made from it too (derived from that key).
void acall(engine_host& host, int round, const std::vector<std::string>& ids) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::vector<std::string> lines;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      for (std::size_t i; (i = next++) < ids.size();) {
        auto key = ids[i] + ".r" + std::to_string(round);
        auto n = host_actor<tally>{host, ids[i]}
                   .with({key})
                   .try_call(&tally::relay, round, mirror_of(ids[i]));
        std::lock_guard guard{mu};
        lines.push_back(n ? "aok " + ids[i] + " " + std::to_string(*n)
                          : "aerr " + ids[i] + " " + n.error().to_string());
      }
    });
  for (auto& t : workers)
    t.join();
  for (auto& l : lines)
    say(l);
  say("acalled");
}

void aget(engine_host& host, const std::vector<std::string>& ids) {
  for (auto& id : ids) {
    auto r = host_actor<tally>{host, id}.try_call(&tally::get);
    if (!r) {
      say("aerr " + id + " " + std::string{to_string(r.error().code())});
      continue;
    }
    std::string list;
    for (auto x : *r)
      list += (list.empty() ? "" : ",") + std::to_string(x);
    say("aval " + id + " " + (list.empty() ? "-" : list));
  }
  say("agot");
}

std::vector<std::string> rest(std::istringstream& in) {
  std::vector<std::string> out;
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2)
    args[argv[i]] = argv[i + 1];
  for (auto* need : {"--brokers", "--app", "--id", "--dir", "--effects"})
    if (!args.count(need)) {
      std::fprintf(stderr, "perdure-cluster-engine-node: %s missing\n",
                   need);
      return 2;
    }
  effects_fd = ::open(args["--effects"].c_str(),
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (effects_fd < 0) {
    std::perror("perdure-cluster-engine-node: open effects");
    return 1;
  }
  exec_prefix = args["--id"] + "." + std::to_string(::getpid()) + ".";
  auto session = args.count("--session-timeout-ms")
                   ? args["--session-timeout-ms"]
                   : std::string{"3000"};
  auto heartbeat = args.count("--heartbeat-ms") ? args["--heartbeat-ms"]
                                                : std::string{"1000"};
  engine_host_options o;
  o.node.log = {.brokers = args["--brokers"],
                .app = args["--app"],
                .properties = {{"fetch.wait.max.ms", "1"}},
                .log = [verbose = std::getenv("PERDURE_NODE_LOG_INFO")
                                  != nullptr](eventlog::log_level l,
                                              std::string_view text) {
                  if (l >= eventlog::log_level::warning
                      || (verbose && l >= eventlog::log_level::info))
                    std::cerr << text << '\n';
                }};
  o.node.node_id = args["--id"];
  // A door, as a deployment has one: a killed node's partitions are taken
  // over as soon as its door's connection closes.
  o.serve_address = args.count("--serve") ? args["--serve"] : "127.0.0.1:0";
  if (o.serve_address == "none")
    o.serve_address.clear();
  o.node.topic_configs_wait = {}; // the mock answers no DescribeConfigs
  o.node.store.dir = args["--dir"];
  o.node.group_properties = {{"session.timeout.ms", session},
                             {"heartbeat.interval.ms", heartbeat}};
  if (args.count("--standbys"))
    o.node.standby_replicas = std::stoul(args["--standbys"]);
  o.engine.actor_threads = 1;
  o.actor_calls = served_actors<tally>();
  o.engine.stop_timeout = std::chrono::milliseconds{500};
  auto host = engine_host::start(std::move(o));
  if (!host) {
    std::cerr << "perdure-cluster-engine-node: "
              << host.error().to_string() << '\n';
    return 1;
  }
  the_host = host->get();
  std::unique_ptr<feed> records;
  if (args.count("--feed")) {
    kafka_source src{.brokers = args["--brokers"],
                     .topic = args["--feed"],
                     .group = args["--app"] + "-feed",
                     // As the node's group (node_group.cpp): a join
                     // the mock never answers is given up after
                     // max.poll.interval.ms + 3 s.
                     .properties = {{"session.timeout.ms", session},
                                    {"heartbeat.interval.ms", heartbeat},
                                    {"max.poll.interval.ms", "15000"}},
                     .max_batch = 50};
    feed_options fo;
    fo.log = [](eventlog::log_level l, std::string_view text) {
      if (l >= eventlog::log_level::error)
        std::cerr << text << '\n';
    };
    auto f = subscribe(**host, src,
                       actor_target(&tally::add,
                                    [](const kafka_record& r) {
                                      return std::stoi(r.value);
                                    }),
                       std::move(fo));
    if (!f) {
      std::cerr << "perdure-cluster-engine-node: feed: "
                << f.error().to_string() << '\n';
      return 1;
    }
    records = std::move(*f);
  }
  say("ready");
  std::vector<std::thread> calls; // acall threads, joined after the stop
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in{line};
    std::string word;
    long from = 0, to = 0;
    in >> word;
    if (word == "start" && in >> from >> to) {
      start(**host, from, to);
    } else if (word == "check" && in >> from >> to) {
      check(**host, from, to);
    } else if (word == "fstart" && in >> from >> to) {
      fstart(**host, from, to);
    } else if (word == "fcheck" && in >> from >> to) {
      fcheck(**host, from, to);
    } else if (word == "acall" && in >> from) {
      calls.emplace_back([h = host->get(), round = static_cast<int>(from),
                          ids = rest(in)] { acall(*h, round, ids); });
    } else if (word == "aget") {
      aget(**host, rest(in));
    } else if (word == "running") {
      std::string out = "running";
      for (auto p : (*host)->running())
        out += " " + std::to_string(p);
      say(out);
    } else if (word == "quit") {
      break;
    } else {
      std::cerr << "perdure-cluster-engine-node: unknown command '" << line
                << "'\n";
    }
  }
  // A clean stop while actor calls may be in flight (as a deployment
  // stops a node): those on this host end closed, and the driver tries
  // them again elsewhere by their keys.
  if (records)
    records->stop(); // before its host
  (*host)->stop();
  for (auto& t : calls)
    t.join();
  say("bye");
  ::close(effects_fd);
  return 0;
}
