// SPDX-License-Identifier: Apache-2.0
// The perdure demo: an order workflow on the default storage
// ($PERDURE_STORAGE, else the per-user default, e.g. ~/.local/state/perdure). Stock is reserved for
// every line in parallel, the payment fails once and is retried, then the
// order ships. The demo prints the workflow's status, output and steps; the
// `perdure` CLI reads the same storage afterwards (see the README).

#include <perdure/perdure.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace perdure;

struct order_line {
  std::string sku;
  int quantity = 0;
  int unit_cents = 0;
};
PERDURE_FIELDS(order_line, sku, quantity, unit_cents)

const auto reserve_stock = step("reserve_stock", [](order_line line) {
  return line.quantity * line.unit_cents;
});

const auto charge_payment = step(
  "charge_payment",
  [](std::vector<int> line_totals) {
    // The payment provider times out on the first attempt; the step's
    // max_attempts (default 3) retries it.
    if (this_step::attempt() == 1)
      throw std::runtime_error("payment provider timed out");
    int total = 0;
    for (int t : line_totals)
      total += t;
    return total;
  },
  {.retry_backoff = std::chrono::milliseconds{10}});

const auto ship = step("ship", [](std::string order_id, int charged_cents) {
  return "order " + order_id + " shipped, charged "
         + std::to_string(charged_cents / 100) + "."
         + std::to_string(charged_cents % 100 / 10)
         + std::to_string(charged_cents % 10) + " EUR";
});

int main() {
  engine eng;
  auto id = "order-" + std::to_string(std::chrono::system_clock::now()
                                         .time_since_epoch()
                                         .count()
                                       / 1000000);
  std::vector<workflow<int>> totals;
  for (auto& line : std::vector<order_line>{{"book", 2, 1250},
                                            {"pen", 3, 199},
                                            {"lamp", 1, 3490}})
    totals.push_back(reserve_stock(line));
  auto wf = ship(id, charge_payment(totals));
  auto out = eng.run(wf, id);
  auto meta = eng.metadata(id);
  std::printf("workflow %s: %s\n", id.c_str(),
              std::string{to_string(meta.status)}.c_str());
  std::printf("output:   %s\n", out.c_str());
  std::printf("steps:    %zu, attempts: %d\n", meta.steps, meta.attempts);
  for (const char* s : {"charge_payment", "ship"}) {
    auto sm = eng.metadata(id, s);
    std::printf("  %-15s %-9s attempts %zu%s%s\n", s,
                std::string{to_string(sm.state)}.c_str(), sm.attempts.size(),
                sm.attempts.front().error_text.empty() ? "" : ", first: ",
                sm.attempts.front().error_text.c_str());
  }
  // Running a finished id returns its stored output and runs nothing.
  std::printf("re-run:   %s\n", eng.run(wf, id).c_str());
  std::printf("\ninspect it: perdure show %s  (storage: %s)\n", id.c_str(),
              eventlog::default_storage_dir().c_str());
}
