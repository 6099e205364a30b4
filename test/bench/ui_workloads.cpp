// SPDX-License-Identifier: Apache-2.0
// ui-list-1m: the list page of `perdure ui` over a storage of 1,000,000
// streams (PERDURE_BENCH_STREAMS to change), each request timed over HTTP
// on 127.0.0.1 against the `perdure ui` program: the first page, status
// filtered pages, a prefix page, deep pages with `after`, a kind page, and
// the worst case (a kind no stream has: the page's read budget). The same
// run times one whole directory walk, what a page cost before paging used
// keyed seeks.

#include "bench.hpp"

#include "subprocess.hpp"

#include "perdure/eventlog/event_log.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace perdure::bench {

namespace {

// "wf-0001234" workflows (failed 1 %, stored running 10 %, else
// successful), and every 10th index an actor "actor/a-0001230".
std::string id_of(long i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, i % 10 == 0 ? "actor/a-%07ld" : "wf-%07ld",
                i);
  return buf;
}

bool fill(eventlog::event_log& log, long n) {
  for (long i = 0; i < n;) {
    eventlog::write_batch b;
    for (long k = 0; k < 20'000 && i < n; ++k, ++i) {
      auto id = id_of(i);
      if (i % 10 == 0) {
        b.create(id, eventlog::stream_kind::actor);
        continue;
      }
      b.create(id, eventlog::stream_kind::workflow);
      b.set_status(id, i % 100 == 1   ? "failed"
                       : i % 10 == 3 ? "running"
                                      : "successful");
    }
    if (!log.commit(std::move(b)))
      return false;
  }
  return true;
}

// One GET on 127.0.0.1:port; the body, or "" on a failure.
std::string get(std::uint16_t port, const std::string& target, int& code) {
  code = 0;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return {};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string in;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    auto req = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    if (::send(fd, req.data(), req.size(), 0)
        == static_cast<ssize_t>(req.size())) {
      char buf[16384];
      for (ssize_t r; (r = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        in.append(buf, static_cast<std::size_t>(r));
    }
  }
  ::close(fd);
  auto body = in.find("\r\n\r\n");
  if (!in.starts_with("HTTP/1.1 ") || body == std::string::npos)
    return {};
  code = std::atoi(in.c_str() + 9);
  return in.substr(body + 4);
}

// How many list entries a /api/list answer holds (its "id" keys).
std::size_t items_in(const std::string& body) {
  std::size_t n = 0;
  for (auto at = body.find("\"id\":"); at != std::string::npos;
       at = body.find("\"id\":", at + 1))
    ++n;
  return n;
}

figures ui_list_1m(const bench_options& o) {
  long n = 1'000'000;
  if (auto env = std::getenv("PERDURE_BENCH_STREAMS"))
    n = std::atol(env);
  figures f;
  f.add("streams", static_cast<double>(n));
  auto dir = o.dir / "ui-list";
  {
    eventlog::options lo;
    lo.dir = dir;
    lo.mode = eventlog::durability::process;
    auto log = eventlog::event_log::open(lo);
    auto t0 = std::chrono::steady_clock::now();
    if (!log || !fill(**log, n)) {
      f.add("correct", 0);
      return f;
    }
    f.add("fill_s", seconds_since(t0));
  }
  // Served by the `perdure ui` program itself (read-only: the storage
  // opened once), on a free port it prints.
  test::subprocess ui{{PERDURE_CLI_PATH, "--storage", dir.string(), "--utc",
                       "ui", "--listen", "127.0.0.1:0"}};
  auto banner = ui.read_line(std::chrono::minutes{5});
  auto at = banner.rfind(':');
  int port = at == std::string::npos ? 0 : std::atoi(banner.c_str() + at + 1);
  if (port <= 0) {
    std::fprintf(stderr, "perdure ui printed '%s'\n", banner.c_str());
    f.add("correct", 0);
    return f;
  }
  auto mid = id_of(n / 2 + 1);
  auto late = id_of(n * 9 / 10 + 1);
  struct request {
    const char* name;
    std::string target;
    long expect; ///< items the page must hold (-1: any)
  };
  const request requests[] = {
    {"first", "/api/list", 50},
    {"failed", "/api/list?status=failed", 50},
    {"resumable", "/api/list?status=resumable", 50},
    {"two_statuses", "/api/list?status=failed,successful", 50},
    {"prefix", "/api/list?prefix=wf-005", 50},
    {"deep", "/api/list?after=" + mid, 50},
    {"deep_failed", "/api/list?status=failed&after=" + late, 50},
    {"failed_prefix", "/api/list?status=failed&prefix=wf-007", 50},
    {"actors", "/api/list?kind=actor", 50},
    {"workflows", "/api/list?kind=workflow", -1}, // behind 10 % actors
    {"page_1000", "/api/list?limit=1000&after=" + mid, 1000},
    {"rare_kind", "/api/list?kind=dead_letter", 0},
  };
  bool correct = true;
  double worst = 0;
  for (auto& r : requests) {
    latencies l;
    for (int k = 0; k < 21; ++k) {
      int code = 0;
      auto t0 = std::chrono::steady_clock::now();
      auto body = get(port, r.target, code);
      l.add(std::chrono::steady_clock::now() - t0);
      auto got = static_cast<long>(items_in(body));
      if (code != 200 || (r.expect >= 0 && got != r.expect)) {
        correct = false;
        std::fprintf(stderr, "%s: HTTP %d, %ld items: %.200s\n", r.name,
                     code, got, body.c_str());
        break;
      }
    }
    auto p50 = l.quantile_us(0.5) / 1000;
    worst = std::max(worst, p50);
    f.add(std::string{r.name} + "_p50_ms", p50);
    if (r.expect < 0) {
      int code = 0;
      f.add(std::string{r.name} + "_items",
            static_cast<double>(items_in(get(port, r.target, code))));
    }
  }
  ui.signal(SIGTERM);
  correct = correct && ui.wait() == 0;
  f.add("worst_p50_ms", worst);
  // What a prefix or later page cost when it walked the whole directory.
  {
    eventlog::options lo;
    lo.dir = dir;
    lo.mode = eventlog::durability::process;
    auto log = eventlog::event_log::open(lo);
    if (!log) {
      std::fprintf(stderr, "open: %s\n", log.as_status().to_string().c_str());
      correct = false;
    } else {
      auto t0 = std::chrono::steady_clock::now();
      auto all = (*log)->list();
      f.add("full_walk_ms", seconds_since(t0) * 1000);
      correct = correct && all && all->size() == static_cast<std::size_t>(n);
    }
  }
  f.add("correct", correct ? 1 : 0);
  return f;
}

} // namespace

PERDURE_WORKLOAD("ui-list-1m",
                 "perdure ui's /api/list pages over 1,000,000 streams "
                 "(PERDURE_BENCH_STREAMS), medians over HTTP",
                 ui_list_1m);

} // namespace perdure::bench
