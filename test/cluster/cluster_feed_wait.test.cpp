// SPDX-License-Identifier: Apache-2.0
// A cluster feed whose records' owner cannot be reached waits for it: on
// two hosts without doors (no forwarding), a feed on host b sends the
// records of b's partitions and keeps trying those of host a's, commits
// nothing meanwhile, dead-letters nothing, and applies them once a stops
// and its partitions move to b. On the 3-broker mock.

#include "node_test_util.hpp"
#include "perdure/cluster/kafka_feed.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>
#include <set>
#include <string>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

const auto kfw_length = step("kfw_length", [](kafka_record r) {
  return static_cast<int>(r.value.size());
});

template <class R> auto got(R r) {
  REQUIRE_MESSAGE(r, r.error().to_string());
  return std::move(r).value();
}

engine_host_options doorless(const kafka_mock_process& mock,
                             const std::filesystem::path& dir,
                             const std::string& id) {
  engine_host_options o;
  o.node = node_options_for(mock, "feedw", dir, id);
  o.engine.actor_threads = 1;
  o.engine.stop_timeout = std::chrono::milliseconds{200};
  return o; // no serve_address: no door, nothing forwarded
}

// The workflows stored in the engines `h` runs now.
std::size_t stored_here(const engine_host& h) {
  std::size_t n = 0;
  for (auto p : h.running())
    if (auto eng = h.engine_of(p))
      n += eng->list().size();
  return n;
}

} // namespace

TEST_CASE("a feed waits for an owner it cannot reach, commits nothing "
          "meanwhile, and sends the records once the partition moves") {
  auto mock = start_mock("feedw", 4);
  REQUIRE(mock->command("topic waits 4") == "ok");
  REQUIRE(mock->command("topic waits.dead-letter 1") == "ok");
  temp_dir dir;
  auto a = got(engine_host::start(doorless(*mock, dir / "a", "a")));
  REQUIRE(wait_until([&] { return a->running().size() == 4; }, 60s));
  auto b = got(engine_host::start(doorless(*mock, dir / "b", "b")));
  REQUIRE(wait_until(
      [&] {
        return !b->running().empty() && !a->running().empty() &&
               a->running().size() + b->running().size() == 4;
      },
      60s));
  kafka_producer producer{mock->bootstrap()};
  for (int i = 0; i < 40; ++i)
    REQUIRE(producer
                .produce("waits", "k" + std::to_string(i),
                         std::string(static_cast<std::size_t>(i), 'x'))
                .is_ok());
  REQUIRE(producer.flush().is_ok());

  feed_options o;
  o.log = [](eventlog::log_level, std::string_view) {};
  o.retry_wait = std::chrono::milliseconds{100};
  auto f = got(
      subscribe(*b,
                kafka_source{.brokers = mock->bootstrap(),
                             .topic = "waits",
                             .group = "g-waits",
                             .properties = {{"session.timeout.ms", "6000"},
                                            {"heartbeat.interval.ms", "500"},
                                            {"max.poll.interval.ms", "15000"}},
                             .max_batch = 100},
                start_workflow(kfw_length), o));
  // b's own partitions get their workflows; a's records wait: the batch
  // is neither committed nor dead-lettered.
  REQUIRE(wait_until(
      [&] {
        return stored_here(*b) > 0 &&
               f->last_error().find("not answered") != std::string::npos;
      },
      60s));
  CHECK(f->stats().records == 0);
  CHECK(f->stats().dead_letters == 0);
  CHECK(stored_here(*b) < 40);

  a->stop(); // its partitions move to b
  bool all = wait_until([&] { return f->stats().records == 40; }, 90s);
  INFO("records " << f->stats().records << ", last error '" << f->last_error()
                  << "'");
  REQUIRE(all);
  CHECK(f->stats().dead_letters == 0);
  CHECK(b->running().size() == 4);
  CHECK(stored_here(*b) == 40);
  // Each record's workflow ran: outputs 0..39, each once.
  std::multiset<int> outputs;
  CHECK(wait_until(
      [&] {
        outputs.clear();
        for (auto p : b->running())
          for (auto& e : b->engine_of(p)->list())
            if (auto out = b->engine_of(p)->try_output<int>(e.id))
              outputs.insert(*out);
        return outputs.size() == 40;
      },
      60s));
  std::multiset<int> expected;
  for (int i = 0; i < 40; ++i)
    expected.insert(i);
  CHECK(outputs == expected);
  f->stop();
  b->stop();
}
