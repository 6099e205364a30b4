// Seed example 8-13: a long workflow started detached from a method under a
// deterministic id, checked later without blocking the actor.
#include <perdure/perdure.hpp>

#include <cstdio>
#include <thread>
#include <unistd.h>

using namespace perdure;
using namespace std::chrono_literals;

engine* eng = nullptr;

const auto ship_items = step("ship_items", [](std::vector<std::string> items) {
  std::this_thread::sleep_for(300ms); // the carrier takes its time
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
    auto h = eng->try_run_async(ship_items(items), shipment_workflow_id);
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
  eng = &e;
  auto order = "order-" + std::to_string(getpid());
  auto cart = e.actor<ShoppingCart>("cart-" + order, ShoppingCart{order, {}, {}});
  cart.call(&ShoppingCart::add, std::string{"book"});
  cart.call(&ShoppingCart::add, std::string{"pen"});
  cart.call(&ShoppingCart::add, std::string{"lamp"});
  auto id = cart.call(&ShoppingCart::do_checkout); // returns at once
  std::printf("checked out; shipping runs as %s\n", id.c_str());
  // The cart stays responsive while the shipment runs.
  cart.call(&ShoppingCart::add, std::string{"gift card"});
  auto wf = cart.call(&ShoppingCart::shipment);
  while (e.status(wf) == workflow_status::running)
    std::this_thread::sleep_for(50ms);
  std::printf("shipment %s: %s\n", wf.c_str(),
              e.output<std::string>(wf).c_str());
}
