// SPDX-License-Identifier: Apache-2.0
// A nightly report on a schedule: every night at 02:00 UTC a workflow
// gathers the day's orders and totals them. The schedule lives in the
// storage, one workflow per night runs exactly once (its id names the
// night), and nights missed while the service was down run once on
// restart (catch_up::run_once). `--every 200ms` shortens the night so the
// sample ends in a second; it then checks three reports in a row, each of
// its own tick.
#include <perdure/perdure.hpp>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include <unistd.h>

using namespace perdure;
using namespace std::chrono_literals;
using sclock = std::chrono::system_clock;

namespace {

std::int64_t ms_of(sclock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           t.time_since_epoch())
    .count();
}

// The day's orders (a stand-in for a query): deterministic per night.
const auto fetch_orders = step("fetch_orders", [](std::int64_t night) {
  std::vector<int> amounts;
  for (int i = 1; i <= 3; ++i)
    amounts.push_back(static_cast<int>(night % 7) + i * 10);
  return amounts;
});

struct report {
  std::int64_t night = 0;
  int orders = 0;
  int total = 0;
};
PERDURE_FIELDS(report, night, orders, total)

const auto total_up = step("total_up", [](std::int64_t night,
                                         std::vector<int> amounts) {
  report r{night, static_cast<int>(amounts.size()), 0};
  for (int a : amounts)
    r.total += a;
  return r;
});

workflow<report> nightly(sclock::time_point tick) {
  auto night = ms_of(tick);
  return total_up(night, fetch_orders(night));
}

} // namespace

int main(int argc, char** argv) {
  std::string spec = "0 2 * * *"; // 02:00 UTC every night
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--every") == 0)
      spec = std::string{"every "} + argv[i + 1];
  engine eng;
  // The pid keeps the name fresh, so the sample can run again on one
  // storage (a real service keeps one name).
  auto name = "nightly-report-" + std::to_string(::getpid());
  auto s = schedule<report>(eng, name, spec, nightly,
                            {.missed = catch_up::run_once});
  std::printf("schedule '%s': %s\n", s.name.c_str(), s.spec.c_str());
  if (spec.rfind("every ", 0) != 0)
    return 0; // a real night: the engine keeps running in a service
  // Wait (up to a minute, however slow the machine) for three reports.
  std::map<std::int64_t, report> reports;
  auto deadline = sclock::now() + 1min;
  while (reports.size() < 3 && sclock::now() < deadline) {
    for (auto& w : eng.list({workflow_status::successful}))
      if (w.id.rfind(name + "/", 0) == 0) {
        auto r = eng.output<report>(w.id);
        reports.emplace(r.night, r);
      }
    std::this_thread::sleep_for(20ms);
  }
  bool ok = reports.size() >= 3;
  std::int64_t prev = 0;
  for (auto& [night, r] : reports) {
    std::printf("report of %lld: %d orders, total %d\n",
                static_cast<long long>(night), r.orders, r.total);
    ok = ok && r.orders == 3 && r.total == 3 * (night % 7) + 60
         && (prev == 0 || night > prev);
    prev = night;
  }
  ok = delete_schedule(eng, name).is_ok() && ok;
  std::printf("%s\n", ok ? "three nightly reports, one per tick" : "WRONG");
  return ok ? 0 : 1;
}
