// SPDX-License-Identifier: Apache-2.0
// Doors with mutual TLS (engine_host_options::tls): two hosts whose
// certificates the cluster's CA signed forward requests to each other; a
// door whose certificate another CA signed, and a plain door, cannot reach
// them; files that would not work are refused when the host starts. The
// certificates are made here with the openssl program. On the 3-broker
// mock.

#include "engine_door.hpp"
#include "node_test_util.hpp"
#include "perdure/cluster/engine_host.hpp"
#include "temp_dir.hpp"
#include "test_ca.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <perdure/perdure.hpp>
#include <string>
#include <vector>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

const auto tl_twice = step("tl_twice", [](int x) { return 2 * x; });

engine_host_options tl_options(const kafka_mock_process& mock,
                               const std::filesystem::path& dir,
                               const std::string& id, door_tls tls) {
  engine_host_options o;
  o.node = node_options_for(mock, "tls", dir, id);
  o.engine.actor_threads = 1;
  o.engine.stop_timeout = std::chrono::milliseconds{200};
  o.serve_address = "127.0.0.1:0";
  o.forward_deadline = std::chrono::seconds{60};
  o.tls = std::move(tls);
  return o;
}

template <class R> auto got(R r) {
  REQUIRE_MESSAGE(r, r.error().to_string());
  return std::move(r).value();
}

std::string tl_id_in(const partition_map& map, partition_id p) {
  for (int i = 0;; ++i) {
    auto id = "tls-" + std::to_string(i);
    if (map.partition_of(id) == p)
      return id;
  }
}

// A door that serves nothing, for calls to other doors.
std::unique_ptr<engine_door> caller(const door_tls& tls = {}) {
  return got(engine_door::start(
      "127.0.0.1:0",
      [](std::uint8_t, const std::string&, const std::string&,
         const std::string&) -> result<std::string> { return std::string{}; },
      {}, tls));
}

} // namespace

TEST_CASE("doors with mutual TLS forward requests, and refuse a door whose "
          "certificate another CA signed and a plain one") {
  temp_dir dir;
  test_ca cluster_ca{dir.path(), "cluster"};
  test_ca other_ca{dir.path(), "other"};
  auto mock = start_mock("tls", 1);
  auto a = got(engine_host::start(
      tl_options(*mock, dir / "a", "a", cluster_ca.issue("node-a"))));
  REQUIRE(wait_until([&] { return a->running().size() == 1; }, 60s));
  // b's key is encrypted: the passphrase reaches CAF's openssl module too.
  auto b = got(engine_host::start(
      tl_options(*mock, dir / "b", "b", cluster_ca.issue("node-b", "s3cret"))));
  auto id = tl_id_in(a->routing(), 0);
  auto door_of = [](engine_host& h) {
    return "127.0.0.1:" + std::to_string(*h.door_port());
  };
  // Whoever leads the partition once both agree; the other forwards.
  engine_host* owner = nullptr;
  engine_host* other = nullptr;
  REQUIRE(wait_until(
      [&] {
        for (auto [x, y] : {std::pair{a.get(), b.get()}, {b.get(), a.get()}})
          if (x->engine_of(0) &&
              y->cluster_node().partitions().at(0).owner_endpoint ==
                  door_of(*x)) {
            owner = x;
            other = y;
            return true;
          }
        return false;
      },
      60s));
  CHECK(got(other->try_run(tl_twice(21), id)) == 42);
  CHECK(other->counters().forwarded >= 1);
  CHECK(got(other->try_status(id)) == workflow_status::successful);
  auto served = [&] { return a->counters().served + b->counters().served; };
  auto served_before = served();
  CHECK(served_before >= 1);

  // Another CA's certificate, and no TLS at all: neither gets an answer.
  auto status_bytes = [&](engine_door& from) {
    return from.call(door_of(*owner),
                     static_cast<std::uint8_t>(request_kind::status), id, {},
                     {}, std::chrono::seconds{10});
  };
  auto intruder = caller(other_ca.issue("intruder"));
  auto refused = status_bytes(*intruder);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == errc::io);
  auto plain = caller();
  auto plain_refused = status_bytes(*plain);
  REQUIRE_FALSE(plain_refused);
  CHECK(plain_refused.error().code() == errc::io);
  CHECK(served() == served_before);
  // A member's certificate is answered on that path (busy if the
  // partition moved meanwhile: an answer all the same).
  auto member = caller(cluster_ca.issue("member"));
  auto answer = status_bytes(*member);
  CHECK((answer ? answer->size() == 1 : answer.error().code() == errc::busy));
  b->stop();
  a->stop();
}

TEST_CASE("engine_host refuses TLS settings that would not work, naming the "
          "file and the reason") {
  temp_dir dir;
  test_ca cluster_ca{dir.path(), "cluster"};
  test_ca other_ca{dir.path(), "other"};
  auto a = cluster_ca.issue("node-a");
  auto b = cluster_ca.issue("node-b", "s3cret");
  auto foreign = other_ca.issue("foreign");
  auto refused = [&](door_tls tls, bool door = true) {
    engine_host_options o;
    o.serve_address = door ? "127.0.0.1:0" : "";
    o.tls = std::move(tls);
    auto h = engine_host::start(std::move(o));
    REQUIRE_FALSE(h);
    CHECK(h.error().code() == errc::invalid_argument);
    return h.error().message();
  };
  auto missing = a;
  missing.key = (dir / "none.key").string();
  CHECK(refused(missing).find("none.key") != std::string::npos);
  auto mismatched = a;
  mismatched.key = b.key; // and no passphrase for it
  CHECK(refused(mismatched).find("node-b.key") != std::string::npos);
  auto wrong_pass = b;
  wrong_pass.passphrase = "guess";
  CHECK(refused(wrong_pass).find("passphrase") != std::string::npos);
  auto other_key = a;
  other_key.key = (dir / "node-b.key").string();
  other_key.passphrase = "s3cret";
  CHECK(refused(other_key).find("does not match") != std::string::npos);
  auto not_ours = foreign;
  not_ours.ca_file = cluster_ca.ca_file();
  CHECK(refused(not_ours).find("does not chain") != std::string::npos);
  auto no_ca = a;
  no_ca.ca_file.clear();
  CHECK(refused(no_ca).find("ca_file is empty") != std::string::npos);
  CHECK(refused(a, false).find("serve_address is empty") != std::string::npos);
}
