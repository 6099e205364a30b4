// SPDX-License-Identifier: Apache-2.0
// A Kafka-triggered order process: the `orders` topic (key = customer, value
// = amount) is delivered to one `customer` virtual actor per key, in
// partition order, with the record's offset as the call's idempotency key.
// The actor (event-sourced: it logs an order_placed event per order, not its
// state) counts the customer's orders and starts each order's payment and
// shipping workflow detached, under a deterministic id, so a record delivered
// again after a crash finds the workflow it started. A record that cannot be
// decoded goes to the dead-letter stream. By default the sample starts its
// own mock cluster and produces its records; `--brokers HOST:PORT` uses a
// real cluster (the topic must exist).
#include <perdure/perdure.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

std::string run_tag; // the consumer group: keeps runs on a fresh mock apart

struct order {
  std::string customer;
  int amount = 0;
};
PERDURE_FIELDS(order, customer, amount)

order decode_order(const kafka_record& r) {
  std::size_t used = 0;
  int amount = std::stoi(r.value, &used); // throws: a poison record
  if (used != r.value.size() || amount <= 0)
    throw std::invalid_argument{"bad amount '" + r.value + "'"};
  return {r.key, amount};
}

const auto pay = step("pay", [](order o) {
  return "paid " + std::to_string(o.amount) + " for " + o.customer;
});
const auto ship = step("ship", [](order o, std::string receipt) {
  return receipt + ", shipped to " + o.customer;
});
const auto process_order = step("process_order",
                                [](order o) -> flow<std::string> {
                                  return ship(o, pay(o));
                                });

} // namespace

/// What a customer's actor logs per order (an event, not its whole state).
struct order_placed {
  int amount = 0;
};
PERDURE_EVENT(order_placed, amount)

/// One event-sourced actor per customer (the record key).
struct customer : event_sourced<customer, order_placed> {
  int orders = 0;
  int total = 0;

  void apply(const order_placed& e) {
    ++orders;
    total += e.amount;
  }

  /// Records the order and starts its workflow; returns the workflow's id.
  std::string place(order o) {
    emit(order_placed{o.amount});
    // Derived from the committed state: a call replayed after a crash
    // computes the same id and finds the workflow instead of starting a
    // second one.
    auto id = run_tag + "/order/" + o.customer + "/" + std::to_string(orders);
    auto h = this_step::engine().try_run_async(process_order(o), id);
    if (!h && h.error() != errc::busy)
      throw std::runtime_error(h.error().to_string());
    return id;
  }

  int spent() const {
    return total;
  }
};
PERDURE_ACTOR(customer, (orders, total), (place, spent))

int main(int argc, char** argv) {
  std::string brokers;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--brokers") == 0)
      brokers = argv[i + 1];
  std::unique_ptr<kafka_mock_cluster> cluster;
  if (brokers.empty()) {
    cluster = std::make_unique<kafka_mock_cluster>();
    ok_or_throw(cluster->create_topic("orders", 2));
    brokers = cluster->bootstrap();
    kafka_producer producer{brokers};
    const char* values[] = {"30", "12", "oops", "7", "50"};
    const char* keys[] = {"alice", "bob", "carol", "alice", "dave"};
    for (int i = 0; i < 5; ++i)
      ok_or_throw(producer.produce("orders", keys[i], values[i]));
    ok_or_throw(producer.flush());
  }
  // Offsets are stored per consumer group. The mock cluster keeps nothing
  // across runs, so a run on its own mock uses a group of its own; against a
  // real cluster the group stays "shop" and a rerun consumes only new orders.
  std::string group = "shop";
  if (cluster)
    group += "-" + std::to_string(std::chrono::system_clock::now()
                                    .time_since_epoch()
                                    .count());
  run_tag = group;
  engine e;
  kafka_source src{.brokers = brokers, .topic = "orders", .group = group};
  auto sub = e.subscribe(src, deliver_to(&customer::place, decode_order,
                                         {.id_prefix = group + "/customer/"}));
  // Wait (up to a minute, however slow the machine) for all five records.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (sub.stats().records < 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  while (e.live_count() > 0)
    std::this_thread::sleep_for(10ms);
  for (const char* name : {"alice", "bob", "dave"}) {
    auto c = e.try_get_actor<customer>(group + "/customer/" + name);
    if (c)
      std::printf("%s spent %d\n", name, c->call(&customer::spent));
  }
  for (auto& w : e.list({workflow_status::successful}))
    if (w.id.rfind(group + "/order/", 0) == 0)
      std::printf("%s: %s\n", w.id.substr(group.size() + 1).c_str(),
                  e.output<std::string>(w.id).c_str());
  auto letters = dead_letters(e, src).value();
  for (auto& d : letters)
    std::printf("dead letter: offset %lld of partition %d: %s\n",
                static_cast<long long>(d.offset), d.partition,
                d.reason.c_str());
  std::printf("records: %llu, dead letters: %llu\n",
              static_cast<unsigned long long>(sub.stats().records),
              static_cast<unsigned long long>(sub.stats().dead_letters));
  return 0;
}
