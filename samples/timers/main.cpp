// SPDX-License-Identifier: Apache-2.0
// Seed example 8-16: two timer events gathered; the gather step runs once
// both fired (the seed's 60 s and 30 s, shortened to 0.6 s and 0.3 s).
#include <perdure/perdure.hpp>

#include <cstdio>

using namespace perdure;
using namespace std::chrono_literals;
using std::chrono::system_clock;

int main() {
  engine eng;
  auto start = system_clock::now();
  auto event1 = wait_for_event<timer_listener>(start + 600ms);
  auto event2 = wait_for_event<timer_listener>(start + 300ms);
  auto [e1, e2] = eng.run(gather(event1, event2));
  auto ms = [&](const timer_event& e) {
    return (e.fired - detail::to_ns(start)) / 1'000'000;
  };
  std::printf("event1 fired after %lld ms, event2 after %lld ms\n",
              static_cast<long long>(ms(e1)), static_cast<long long>(ms(e2)));
  bool ok = e1.fired >= e1.due && e2.fired >= e2.due && e2.fired < e1.fired;
  std::printf("gathered: %s\n", ok ? "both timers" : "WRONG");
  return ok ? 0 : 1;
}
