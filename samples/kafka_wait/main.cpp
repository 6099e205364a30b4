// SPDX-License-Identifier: Apache-2.0
// A workflow node that waits for a Kafka record: each order workflow pays,
// then waits for the next record of the `deliveries` topic (a courier
// picking up a parcel) and completes with it. Two workflows waiting on the
// same topic get distinct records; the record and its next offset are
// logged in one LMDB transaction, so after a crash the consumer resumes
// from the stored offset and no record is lost or handed out twice. By
// default the sample starts its own mock cluster and produces the records
// once both orders wait; `--brokers HOST:PORT` uses a real cluster (the
// topic must exist).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <perdure/perdure.hpp>
#include <set>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

const auto pay = step("kafka_wait_pay", [](std::string order, int amount) {
  return order + ": paid " + std::to_string(amount);
});

const auto hand_over =
    step("kafka_wait_hand_over", [](std::string receipt, kafka_record pickup) {
      return receipt + ", picked up by " + pickup.value + " (record " +
             std::to_string(pickup.offset) + ")";
    });

workflow<std::string> order_process(const std::string& order, int amount,
                                    const kafka_source& deliveries) {
  return hand_over(pay(order, amount),
                   wait_for_event<kafka_listener>(deliveries));
}

} // namespace

int main(int argc, char** argv) {
  std::string brokers;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--brokers") == 0)
      brokers = argv[i + 1];
  std::unique_ptr<kafka_mock_cluster> cluster;
  if (brokers.empty()) {
    cluster = std::make_unique<kafka_mock_cluster>();
    ok_or_throw(cluster->create_topic("deliveries", 1));
    brokers = cluster->bootstrap();
  }
  // Offsets are stored per consumer group; the mock keeps nothing across
  // runs, so a run on its own mock uses a group (and ids) of its own.
  std::string group = "couriers";
  if (cluster)
    group +=
        "-" + std::to_string(
                  std::chrono::system_clock::now().time_since_epoch().count());
  kafka_source deliveries{
      .brokers = brokers, .topic = "deliveries", .group = group};
  engine eng;
  auto first = eng.run_async(order_process("order-1", 30, deliveries),
                             group + "/order-1");
  auto second = eng.run_async(order_process("order-2", 12, deliveries),
                              group + "/order-2");
  if (cluster) {
    // Both orders wait (holding no thread) until the couriers report; a new
    // consumer group starts at the topic's earliest offset, so the reports
    // reach them whether they subscribed before or after this.
    kafka_producer producer{brokers};
    ok_or_throw(producer.produce("deliveries", "parcel", "van-7"));
    ok_or_throw(producer.produce("deliveries", "parcel", "bike-3"));
    ok_or_throw(producer.flush());
  }
  std::set<std::string> records; // "(record N)": which record each got
  for (auto* h : {&first, &second}) {
    auto out = h->get();
    std::printf("%s\n", out.c_str());
    records.insert(out.substr(out.rfind('(')));
  }
  std::printf("distinct records: %zu\n", records.size());
  return 0;
}
