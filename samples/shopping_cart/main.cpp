// SPDX-License-Identifier: Apache-2.0
// Seed example 8-13: a long workflow started detached from a method under a
// deterministic id, checked later without blocking the actor.
#include <perdure/perdure.hpp>

#include <cstdio>
#include <future>
#include <unistd.h>

using namespace perdure;
using namespace std::chrono_literals;


// The carrier answers when main says so: the shipment is still running
// while the cart takes more calls.
std::promise<void> carrier_answers;
std::shared_future<void> carrier{carrier_answers.get_future()};

const auto ship_items = step("ship_items", [](std::vector<std::string> items) {
  carrier.wait(); // the carrier takes its time
  return "shipped " + std::to_string(items.size()) + " items";
});

struct ShoppingCart {
  std::string order_id;
  std::vector<std::string> items;
  std::string shipment_workflow_id;

  int add(std::string item) {
    items.push_back(std::move(item));
    return static_cast<int>(items.size());
  }
  std::string do_checkout() {
    // A deterministic id makes the start idempotent: a repeated checkout
    // finds the workflow that runs or ran already.
    shipment_workflow_id = "ship_" + order_id;
    // this_step::engine(): the engine running this method.
    auto h = this_step::engine().try_run_async(ship_items(items),
                                               shipment_workflow_id);
    if (!h && h.error() != errc::busy)
      throw std::runtime_error(h.error().to_string());
    return shipment_workflow_id;
  }
  std::string shipment() const {
    return shipment_workflow_id;
  }
};
PERDURE_ACTOR(ShoppingCart, (order_id, items, shipment_workflow_id),
              (add, do_checkout, shipment))

int main() {
  engine e;
  auto order = "order-" + std::to_string(getpid());
  auto cart = e.actor<ShoppingCart>("cart-" + order, ShoppingCart{order, {}, {}});
  cart.call(&ShoppingCart::add, std::string{"book"});
  cart.call(&ShoppingCart::add, std::string{"pen"});
  cart.call(&ShoppingCart::add, std::string{"lamp"});
  auto id = cart.call(&ShoppingCart::do_checkout); // returns at once
  std::printf("checked out; shipping runs as %s\n", id.c_str());
  // The cart stays responsive while the shipment runs.
  int n = cart.call(&ShoppingCart::add, std::string{"gift card"});
  auto wf = cart.call(&ShoppingCart::shipment);
  auto status = e.status(wf);
  std::printf("cart has %d items while the shipment is %s\n", n,
              status == workflow_status::running ? "running" : "not running");
  carrier_answers.set_value();
  auto shipped = e.output<std::string>(wf); // waits for the shipment
  std::printf("shipment %s: %s\n", wf.c_str(), shipped.c_str());
  if (status != workflow_status::running || shipped != "shipped 3 items") {
    std::fprintf(stderr, "shopping_cart: the shipment should run while the "
                         "cart takes a fourth item, and ship the first three\n");
    return 1;
  }
}
