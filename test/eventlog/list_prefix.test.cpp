// SPDX-License-Identifier: Apache-2.0
// event_log::list_prefix and list_by_status: pages of the directory (under
// a prefix, or of one status), in id order, reading only those entries;
// list_offsets: the source offsets under a key prefix.

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include "temp_dir.hpp"

using namespace perdure;
using namespace perdure::eventlog;

namespace {

std::vector<std::string> ids(const result<std::vector<stream_info>>& r) {
  REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
  std::vector<std::string> out;
  for (auto& s : *r)
    out.push_back(s.id);
  return out;
}

} // namespace

TEST_CASE("list_prefix pages through the ids under a prefix, in id order") {
  test::temp_dir dir;
  options o;
  o.dir = dir.path();
  auto log = std::move(*event_log::open(o));
  write_batch b;
  for (auto id : {"order-1", "order-10", "order-2", "order", "orders/x",
                  "ordeq", "other", "p"})
    b.create(id, stream_kind::workflow, id);
  REQUIRE(log->commit(std::move(b)));
  CHECK(ids(log->list_prefix("order-"))
        == std::vector<std::string>{"order-1", "order-10", "order-2"});
  CHECK(ids(log->list_prefix("order"))
        == std::vector<std::string>{"order", "order-1", "order-10",
                                    "order-2", "orders/x"});
  // Pages of two: each starts after the last id of the one before.
  std::vector<std::string> all;
  std::string after;
  for (int pages = 0;; ++pages) {
    REQUIRE(pages < 10);
    auto page = ids(log->list_prefix("order", after, 2));
    if (page.empty())
      break;
    CHECK(page.size() <= 2);
    all.insert(all.end(), page.begin(), page.end());
    after = page.back();
  }
  CHECK(all == ids(log->list_prefix("order")));
  // An `after` before the prefix starts at the prefix; one past it ends.
  CHECK(ids(log->list_prefix("order-", "a", 1))
        == std::vector<std::string>{"order-1"});
  CHECK(ids(log->list_prefix("order-", "order-9")).empty());
  CHECK(ids(log->list_prefix("zzz")).empty());
  // The empty prefix lists everything; metadata comes with each entry.
  auto every = log->list_prefix("");
  REQUIRE(every);
  CHECK(every->size() == 8);
  CHECK(every->front().metadata == every->front().id);
}

TEST_CASE("list_by_status pages through one status in id order") {
  test::temp_dir dir;
  options o;
  o.dir = dir.path();
  auto log = std::move(*event_log::open(o));
  write_batch b;
  for (int i = 0; i < 7; ++i) {
    auto id = "w" + std::to_string(i);
    b.create(id, stream_kind::workflow).set_status(id, "running");
  }
  b.create("done", stream_kind::workflow).set_status("done", "successful");
  REQUIRE(log->commit(std::move(b)));
  std::vector<std::string> all;
  std::string after;
  for (int pages = 0;; ++pages) {
    REQUIRE(pages < 10);
    auto page = ids(log->list_by_status("running", 3, after));
    if (page.empty())
      break;
    CHECK(page.size() <= 3);
    all.insert(all.end(), page.begin(), page.end());
    after = page.back();
  }
  CHECK(all == std::vector<std::string>{"w0", "w1", "w2", "w3", "w4", "w5",
                                        "w6"});
  CHECK(ids(log->list_by_status("successful"))
        == std::vector<std::string>{"done"});
}

TEST_CASE("list_offsets lists the offsets under a key prefix, in key order") {
  test::temp_dir dir;
  options o;
  o.dir = dir.path();
  auto log = std::move(*event_log::open(o));
  write_batch b;
  b.put_offset("kafka/g/orders/1", 17)
    .put_offset("kafka/g/orders/0", 42)
    .put_offset("kafka/h/pay/0", -1)
    .put_offset("projection/p", 9);
  REQUIRE(log->commit(std::move(b)));
  using entry = std::pair<std::string, std::int64_t>;
  auto kafka = log->list_offsets("kafka/");
  REQUIRE(kafka.has_value());
  CHECK(*kafka
        == std::vector<entry>{{"kafka/g/orders/0", 42},
                              {"kafka/g/orders/1", 17},
                              {"kafka/h/pay/0", -1}});
  CHECK(log->list_offsets("kafka/", 1)->size() == 1);
  CHECK(log->list_offsets("")->size() == 4);
  CHECK(log->list_offsets("nothing/")->empty());
}
