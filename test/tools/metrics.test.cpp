// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics: the registry's text format, the engine option, and a
// scrape of /metrics over 127.0.0.1 after real workflows and actor calls.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "http_client.hpp"
#include "temp_dir.hpp"

#include <dirent.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

using namespace perdure;
using perdure::test::http_get;
using perdure::test::scrape;

struct meter {
  int total = 0;
  int add(int by) {
    total += by;
    return total;
  }
  int read() const {
    return total;
  }
};
PERDURE_ACTOR(meter, (total), (add, read))

namespace {

const auto m_one = step("m_one", [] { return 1; });
const auto m_twice = step("m_twice", [](int x) { return 2 * x; });
const auto m_sum = step("m_sum", [](int a, int b) { return a + b; });
const auto m_broken = step("m_broken", [](int) -> int {
  throw std::runtime_error("always fails");
});

// The exposition parsed: series text ("name{labels}") -> value, and the
// TYPE of each family.
struct exposition {
  std::map<std::string, double> series;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::vector<std::string> order; // series in the order printed

  double at(const std::string& s) const {
    auto i = series.find(s);
    if (i == series.end())
      throw std::runtime_error("no series " + s);
    return i->second;
  }
};

exposition parse(const std::string& text) {
  exposition e;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    REQUIRE_MESSAGE(!line.empty(), "empty line in the exposition");
    if (line.starts_with("# HELP ")) {
      e.helped.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      e.types[rest.substr(0, sp)] = rest.substr(sp + 1);
      continue;
    }
    auto sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    auto key = line.substr(0, sp);
    auto value = line.substr(sp + 1);
    e.series[key] = value == "+Inf" ? INFINITY : std::stod(value);
    e.order.push_back(key);
  }
  return e;
}

// Sockets of this process in LISTEN state (from /proc/net/tcp{,6}).
int listening_sockets() {
  std::set<std::string> inodes;
  if (auto* d = ::opendir("/proc/self/fd")) {
    while (auto* ent = ::readdir(d)) {
      char target[256];
      auto path = std::string{"/proc/self/fd/"} + ent->d_name;
      auto n = ::readlink(path.c_str(), target, sizeof target - 1);
      if (n <= 0)
        continue;
      std::string t{target, static_cast<std::size_t>(n)};
      if (t.starts_with("socket:["))
        inodes.insert(t.substr(8, t.size() - 9));
    }
    ::closedir(d);
  }
  int count = 0;
  for (auto file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in{file};
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
      std::istringstream f{line};
      std::string sl, local, remote, st, queues, timer, retr, uid, timeout,
        inode;
      f >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid
        >> timeout >> inode;
      if (st == "0A" && inodes.contains(inode))
        ++count;
    }
  }
  return count;
}

} // namespace

TEST_CASE("the registry writes counters, gauges and histograms in the text "
          "format 0.0.4") {
  metrics::registry reg;
  reg.get_counter("demo_events_total", "Events.\nSecond line \\ here.").inc(3);
  reg.get_gauge("demo_temp", "A gauge.", {{"room", "a\"b\\c\nd"}}).set(-1.5);
  auto& h = reg.get_histogram("demo_seconds", "A histogram.", {0.1, 1});
  for (double v : {0.05, 0.1, 0.5, 7.0})
    h.observe(v);
  auto id = reg.add_callback("demo_lag", "Lag.", metrics::kind::gauge, [] {
    return std::vector<metrics::sample>{{{{"partition", "0"}}, 42}};
  });
  auto text = reg.expose();
  CHECK(text.find("# HELP demo_events_total Events.\\nSecond line \\\\ "
                  "here.\n# TYPE demo_events_total counter\n"
                  "demo_events_total 3\n")
        != std::string::npos);
  CHECK(text.find("demo_temp{room=\"a\\\"b\\\\c\\nd\"} -1.5\n")
        != std::string::npos);
  CHECK(text.find("demo_seconds_bucket{le=\"0.1\"} 2\n"
                  "demo_seconds_bucket{le=\"1\"} 3\n"
                  "demo_seconds_bucket{le=\"+Inf\"} 4\n"
                  "demo_seconds_sum 7.65\n"
                  "demo_seconds_count 4\n")
        != std::string::npos);
  CHECK(text.find("demo_lag{partition=\"0\"} 42\n") != std::string::npos);
  // Families come sorted by name.
  CHECK(text.find("# TYPE demo_events_total") < text.find("# TYPE demo_lag"));
  CHECK(text.find("# TYPE demo_lag") < text.find("# TYPE demo_seconds"));
  reg.remove_callback(id);
  CHECK(reg.expose().find("demo_lag") == std::string::npos);
  // The same name and labels give the same series; another kind is a bug.
  CHECK(&reg.get_counter("demo_events_total", "") ==
        &reg.get_counter("demo_events_total", ""));
  CHECK_THROWS_AS(reg.get_gauge("demo_events_total", ""), std::logic_error);
  CHECK_THROWS_AS(reg.get_counter("bad name", ""), std::logic_error);
}

TEST_CASE("metrics are off by default: no listener and no port") {
  test::temp_dir dir;
  auto before = listening_sockets();
  engine eng{{.storage = dir.path(),
              .durability = eventlog::durability::process}};
  CHECK_FALSE(eng.metrics_port().has_value());
  CHECK(listening_sockets() == before);
  // The registry is kept anyway (an application may expose it itself).
  REQUIRE(eng.run(m_one(), "off") == 1);
  CHECK(eng.metrics().expose().find("perdure_steps_started_total 1\n")
        != std::string::npos);
}

TEST_CASE("a metrics address that is not loopback is refused with a clear "
          "error") {
  test::temp_dir dir;
  for (auto bad : {"0.0.0.0:9100", "192.168.1.10:0", "[::]:0", "[2001:db8::1]:0",
                   "example.com:9100", "127.0.0.1", "127.0.0.1:99999",
                   "127.0.0.1:http"}) {
    CAPTURE(bad);
    auto e = engine::open({.storage = dir.path(),
                           .durability = eventlog::durability::process,
                           .metrics_address = bad});
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error() == errc::invalid_argument);
    CHECK(e.error().message().find(bad) != std::string::npos);
  }
  auto e = engine::open({.storage = dir.path(),
                         .durability = eventlog::durability::process,
                         .metrics_address = "10.0.0.1:9100"});
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().message().find("not a loopback address")
        != std::string::npos);
  // localhost is loopback.
  auto ok = engine::open({.storage = dir.path(),
                          .durability = eventlog::durability::process,
                          .metrics_address = "localhost:0"});
  REQUIRE_MESSAGE(ok.has_value(), ok.error().message());
  CHECK((*ok)->metrics_port().value_or(0) > 0);
}

TEST_CASE("a scrape of /metrics over 127.0.0.1 reports the work the engine "
          "did") {
  test::temp_dir dir;
  std::uint16_t port = 0;
  {
    engine eng{{.storage = dir.path(),
                .durability = eventlog::durability::process,
                .metrics_address = "127.0.0.1:0"}};
    REQUIRE(eng.metrics_port().has_value());
    port = *eng.metrics_port();
    REQUIRE(port > 0);

    // 5 workflows of 4 bodies each (m_one twice, m_twice, m_sum).
    constexpr int runs = 5;
    for (int i = 0; i < runs; ++i)
      REQUIRE(eng.run(m_sum(m_twice(m_one()), m_one()),
                      "ok-" + std::to_string(i))
              == 3);
    // One failing workflow: its step runs twice, then the workflow fails.
    CHECK_THROWS(
      eng.run(m_broken.options({.max_attempts = 2})(1), "broken"));
    // Actor calls: 4 mutating, 3 readonly, on one activation.
    auto a = eng.actor<meter>("meter-1");
    for (int by : {1, 2, 3, 4})
      a.call(&meter::add, by);
    for (int k = 0; k < 3; ++k)
      CHECK(a.call(&meter::read) == 10);

    auto reply = scrape(port);
    REQUIRE(reply.code == 200);
    CHECK(reply.headers.find("Content-Type: text/plain; version=0.0.4")
          != std::string::npos);
    MESSAGE("scrape excerpt:\n" << reply.body.substr(0, 4000));
    auto e = parse(reply.body);

    const double bodies = runs * 4 + 2;
    CHECK(e.at("perdure_steps_started_total") == bodies);
    CHECK(e.at("perdure_steps_succeeded_total") == runs * 4);
    CHECK(e.at("perdure_steps_failed_total") == 2);
    CHECK(e.types["perdure_steps_started_total"] == "counter");

    // The step latency histogram: cumulative buckets never decrease, +Inf
    // equals _count, which equals the bodies that ran.
    CHECK(e.types["perdure_step_duration_seconds"] == "histogram");
    double prev = 0, inf = -1;
    int buckets = 0;
    for (auto& s : e.order) {
      if (!s.starts_with("perdure_step_duration_seconds_bucket{"))
        continue;
      ++buckets;
      CHECK(e.at(s) >= prev);
      prev = e.at(s);
      if (s.find("le=\"+Inf\"") != std::string::npos)
        inf = e.at(s);
    }
    CHECK(buckets == 18);
    CHECK(inf == bodies);
    CHECK(e.at("perdure_step_duration_seconds_count") == bodies);
    CHECK(e.at("perdure_step_duration_seconds_sum") > 0);

    CHECK(e.at("perdure_workflows{status=\"successful\"}") == runs);
    CHECK(e.at("perdure_workflows{status=\"failed\"}") == 1);
    CHECK(e.at("perdure_workflows{status=\"running\"}") == 0);
    CHECK(e.at("perdure_workflows{status=\"canceled\"}") == 0);
    CHECK(e.types["perdure_workflows"] == "gauge");

    CHECK(e.at("perdure_actor_activations_total") == 1);
    CHECK(e.at("perdure_actor_calls_total{kind=\"mutating\"}") == 4);
    CHECK(e.at("perdure_actor_calls_total{kind=\"readonly\"}") == 3);

    // Every committed batch was observed once by the batch-size histogram;
    // commits group batches, so there are at most as many as batches.
    auto batches = e.at("perdure_log_batches_total");
    CHECK(batches > 0);
    CHECK(e.at("perdure_log_batch_records_count") == batches);
    CHECK(e.at("perdure_log_commits_total") <= batches);
    CHECK(e.at("perdure_log_records_total")
          == e.at("perdure_log_batch_records_sum"));
    CHECK(e.at("perdure_log_commit_seconds_total") > 0);
    // Workflow batches: each run writes at least one per step.
    CHECK(e.at("perdure_workflow_commit_seconds_count") >= runs * 4);

    for (auto& [family, type] : e.types)
      CHECK_MESSAGE(e.helped.contains(family), family);

    CHECK(scrape(port, "/").code == 404);
    CHECK(scrape(port, "/metrics?x=1").code == 200);
    CHECK(http_get(port, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n").code
          == 405);
    CHECK(http_get(port, "nonsense\r\n\r\n").code == 400);
  }
  // The engine closed: nothing listens any more.
  CHECK(scrape(port).code == 0);
}

TEST_CASE("the /metrics server serves a scrape while another client idles, "
          "takes a request split across packets and reports a taken port") {
  test::temp_dir dir;
  engine eng{{.storage = dir / "a",
              .durability = eventlog::durability::process,
              .metrics_address = "127.0.0.1:0"}};
  auto port = eng.metrics_port().value();

  // A client that connects and says nothing does not block the others.
  int idle = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  REQUIRE(::connect(idle, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  CHECK(scrape(port).code == 200);

  // The idle client now sends its request in two pieces.
  std::string first = "GET /metr", second = "ics HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(::send(idle, first.data(), first.size(), MSG_NOSIGNAL) > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds{50});
  REQUIRE(::send(idle, second.data(), second.size(), MSG_NOSIGNAL) > 0);
  std::string all;
  char buf[4096];
  for (ssize_t n; (n = ::recv(idle, buf, sizeof buf, 0)) > 0;)
    all.append(buf, static_cast<std::size_t>(n));
  ::close(idle);
  CHECK(all.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(all.find("# TYPE perdure_steps_started_total counter")
        != std::string::npos);

  // A second engine on the same address fails to open, naming it.
  auto taken = "127.0.0.1:" + std::to_string(port);
  auto other = engine::open({.storage = dir / "b",
                             .durability = eventlog::durability::process,
                             .metrics_address = taken});
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error() == errc::io);
  CHECK(other.error().message().find(taken) != std::string::npos);
  CHECK(other.error().message().find("in use") != std::string::npos);
}
