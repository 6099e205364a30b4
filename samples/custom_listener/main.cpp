// SPDX-License-Identifier: Apache-2.0
// Seed example 8-17: a custom event listener. poll_for_event runs on a
// listener thread and returns when the event arrives; its result is stored
// once as the node's output; event_checkpointed runs after it is durable
// (and may run again after a crash, so it must be idempotent).
#include <perdure/perdure.hpp>

#include <chrono>
#include <cstdio>
#include <future>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

struct order {
  std::string id;
  double amount = 0;
};
PERDURE_FIELDS(order, id, amount)

// A stand-in for a message queue.
struct inbox {
  static order next(const std::string& queue) {
    std::this_thread::sleep_for(50ms);
    return {queue + "-1", 99.5};
  }
  static inline std::promise<std::string> acknowledged;
  static void acknowledge(const order& o) {
    std::printf("acknowledged %s\n", o.id.c_str());
    try {
      acknowledged.set_value(o.id);
    } catch (const std::future_error&) { // acknowledged again: idempotent
    }
  }
};

struct order_listener {
  using event_type = order;
  order poll_for_event(std::string queue) {
    return inbox::next(queue);
  }
  void event_checkpointed(const order& o) {
    inbox::acknowledge(o); // idempotent: may run again after a crash
  }
};

const auto bill = step("bill", [](order o) {
  return "billed " + o.id + " " + std::to_string(static_cast<int>(o.amount));
});

int main() {
  engine eng;
  auto out = eng.run(bill(wait_for_event<order_listener>(std::string{"orders"})));
  std::printf("%s\n", out.c_str());
  // event_checkpointed runs once the event is durable, on the listener's
  // thread: wait for it (for a bounded time) before leaving.
  auto ack = inbox::acknowledged.get_future();
  if (ack.wait_for(30s) != std::future_status::ready || ack.get() != "orders-1") {
    std::fprintf(stderr, "custom_listener: the event was never acknowledged\n");
    return 1;
  }
  return 0;
}
