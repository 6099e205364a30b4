// SPDX-License-Identifier: Apache-2.0
// `perdure ui`'s Kafka page: GET /api/kafka lists the subscriptions the
// storage knows, with the offsets and dead letters the listeners store
// (keys "kafka/GROUP/TOPIC/PARTITION", streams "dead_letter/GROUP/TOPIC",
// payloads with the fields of perdure::dead_letter), and the page shows
// them in Chromium.

#include <doctest/doctest.h>

#include "ui_served.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"

using namespace perdure;
using namespace perdure::test;
using nlohmann::json;

namespace {

// The fields of perdure::dead_letter (listeners/kafka.hpp), which this
// test does not link.
struct dead_letter_rec {
  std::string topic = {};
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key = {};
  std::string value = {};
  std::string reason = {};
  std::string workflow = {};
};
PERDURE_FIELDS(dead_letter_rec, topic, partition, offset, key, value, reason,
               workflow)

// Group "billing/eu" (a group may hold '/') on topic "orders", partitions
// 0, 2 and 10, two dead letters; group "audit" on "payments" with no dead
// letter; a projection's offset, which is no subscription.
void write_kafka(eventlog::event_log& log) {
  eventlog::write_batch b;
  b.put_offset("kafka/billing/eu/orders/0", 42)
    .put_offset("kafka/billing/eu/orders/10", 7)
    .put_offset("kafka/billing/eu/orders/2", 3)
    .put_offset("kafka/audit/payments/0", 100)
    .put_offset("projection/totals", 5);
  auto stream = std::string{"dead_letter/billing/eu/orders"};
  b.create(stream, eventlog::stream_kind::dead_letter);
  auto kind = eventlog::to_u16(eventlog::record_kind::dead_letter);
  b.append(stream, kind,
           codec::encode(dead_letter_rec{"orders", 0, 40, "k40", "oops",
                                         "undecodable: not an int", ""}));
  b.append(stream, kind,
           codec::encode(dead_letter_rec{"orders", 2, 1, "k1", "{}",
                                         "workflow failed: boom",
                                         "kafka/billing/eu/orders/2/1"}));
  REQUIRE(log.commit(std::move(b)));
}

} // namespace

TEST_CASE("ui /api/kafka: subscriptions, offsets and dead letters") {
  served s{{}, write_kafka};
  auto k = s.get_json("/api/kafka");
  auto& subs = k["subscriptions"];
  REQUIRE(subs.size() == 2);
  CHECK(subs[0]["group"] == "audit");
  CHECK(subs[0]["topic"] == "payments");
  CHECK(subs[0]["partitions"]
        == json::parse(R"([{"partition":0,"next_offset":100}])"));
  CHECK(subs[0]["dead_letters"] == 0);
  CHECK(subs[0]["recent_dead_letters"].empty());

  auto& b = subs[1];
  CHECK(b["group"] == "billing/eu");
  CHECK(b["topic"] == "orders");
  CHECK(b["partitions"]
        == json::parse(R"([{"partition":0,"next_offset":42},
                           {"partition":2,"next_offset":3},
                           {"partition":10,"next_offset":7}])"));
  CHECK(b["dead_letter_stream"] == "dead_letter/billing/eu/orders");
  CHECK(b["dead_letters"] == 2);
  auto& dl = b["recent_dead_letters"];
  REQUIRE(dl.size() == 2);
  CHECK(dl[0]["seq"] == 1);
  CHECK(dl[0]["offset"] == 40);
  CHECK(dl[0]["key"] == "k40");
  CHECK(dl[0]["value"] == "oops");
  CHECK(dl[0]["reason"] == "undecodable: not an int");
  CHECK(dl[1]["partition"] == 2);
  CHECK(dl[1]["workflow"] == "kafka/billing/eu/orders/2/1");
  // The same records as the CLI's history of the dead-letter stream.
  auto hist = s.cli_json({"history", "dead_letter/billing/eu/orders"});
  REQUIRE(hist.size() == 2);
  CHECK(hist[1]["payload"]["reason"] == dl[1]["reason"]);

  tools::ui_options o;
  o.redact = true;
  served r{o, write_kafka};
  auto red = r.get_json("/api/kafka")["subscriptions"][1];
  CHECK(red["recent_dead_letters"][0]["value"] == "(redacted)");
  CHECK(red["recent_dead_letters"][0]["key"] == "(redacted)");
  CHECK(red["recent_dead_letters"][0]["reason"] == "undecodable: not an int");
}

TEST_CASE("ui /api/kafka on a storage without Kafka: no subscriptions") {
  served s;
  CHECK(s.get_json("/api/kafka")["subscriptions"].empty());
}

TEST_CASE("ui in chromium: the Kafka page") {
  if (!chromium_path()) {
    MESSAGE("skipped: chromium is not installed (scripts/deps installs it)");
    return;
  }
  served s{{}, write_kafka};
  auto page = s.dom("/subscriptions", "kafka");
  CHECK(occurrences(page, "class=\"sub\"") == 2);
  CHECK(page.find("data-group=\"billing/eu\" data-topic=\"orders\"")
        != std::string::npos);
  CHECK(page.find("data-partition=\"10\" data-offset=\"7\"")
        != std::string::npos);
  CHECK(occurrences(page, "class=\"dead-letter\"") == 2);
  CHECK(page.find("workflow failed: boom") != std::string::npos);
}
