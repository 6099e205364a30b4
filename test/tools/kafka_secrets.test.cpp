// SPDX-License-Identifier: Apache-2.0
// Kafka secrets stay secret: a secret under a property librdkafka does not
// take (a Java client's sasl.jaas.config, an upper-case name, a
// misspelling) or under one it flags as sensitive is refused before
// anything is logged, and its value never shows in an error, in the log
// callback, in any stored byte or in `perdure history` / `show` / `list`.
// The way to pass one, "env:NAME", stores the variable's name only.

#include <doctest/doctest.h>
#include <perdure/listeners/events.hpp>
#include <perdure/listeners/kafka.hpp>
#include <perdure/perdure.hpp>

#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

const auto secrets_take =
    step("secrets_take", [](kafka_record r) { return r.value; });

workflow<std::string> secrets_waiter(const kafka_source& src) {
  return secrets_take(wait_for_event<kafka_listener>(src));
}

std::string fresh_secret() {
  std::random_device rd;
  return "pw-" + std::to_string(rd()) + "-" + std::to_string(rd());
}

// Every file under `dir`, read whole.
std::string all_stored_bytes(const std::filesystem::path& dir) {
  std::string all;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file())
      continue;
    std::ifstream in{e.path(), std::ios::binary};
    all.append(std::istreambuf_iterator<char>{in}, {});
  }
  return all;
}

} // namespace

TEST_CASE("a Kafka secret never reaches the log, the CLI or an error") {
  test::temp_dir dir;
  const auto secret = fresh_secret();
  ::setenv("PERDURE_TEST_KAFKA_SECRET", secret.c_str(), 1);
  std::mutex mu;
  std::string logged; // everything the log callback was given
  const std::pair<std::string, std::string> refused[] = {
    {"sasl.jaas.config",
     "org.apache.kafka.common.security.plain.PlainLoginModule required "
     "username=\"u\" password=\"" + secret + "\";"},
    {"SASL.PASSWORD", secret},
    {"sasl.pasword", secret},
    {"ssl.keystore.password", secret},
  };
  std::vector<std::string> errors;
  {
    engine eng{{.storage = dir.path(),
                .log = [&](eventlog::log_level, std::string_view m) {
                  std::lock_guard g{mu};
                  logged.append(m).append("\n");
                }}};
    for (auto& [key, value] : refused) {
      CAPTURE(key);
      kafka_source src{.brokers = "127.0.0.1:1",
                       .topic = "t",
                       .group = "g",
                       .properties = {{key, value}}};
      // A wait's source is checked when the graph is built.
      try {
        (void) secrets_waiter(src);
        FAIL("the wait's source was accepted");
      } catch (const perdure::error& e) {
        CHECK(e.code() == errc::invalid_argument);
        CHECK(std::string{e.what()}.find(key) != std::string::npos);
        errors.emplace_back(e.what());
      }
      if (key == "ssl.keystore.password")
        continue; // librdkafka takes it; only a logged source refuses it
      // A subscription's properties are checked when it subscribes.
      try {
        (void) eng.subscribe(src, start_workflow(secrets_take));
        FAIL("the subscription's properties were accepted");
      } catch (const perdure::error& e) {
        CHECK(e.code() == errc::invalid_argument);
        errors.emplace_back(e.what());
      }
      CHECK(check(src).message().find(key) != std::string::npos);
      errors.push_back(check(src).message());
    }
    CHECK(eng.list().empty());

    // The way to pass it: the log keeps the variable's name. The broker
    // is unreachable, so the wait stays armed until it is canceled.
    kafka_source by_env{
      .brokers = "127.0.0.1:1",
      .topic = "t",
      .group = "g",
      .properties = {{"sasl.password", "env:PERDURE_TEST_KAFKA_SECRET"},
                     {"sasl.username", "env:PERDURE_TEST_KAFKA_SECRET"},
                     {"sasl.mechanisms", "PLAIN"},
                     {"security.protocol", "sasl_plaintext"}}};
    auto h = eng.run_async(secrets_waiter(by_env), "by-env");
    auto armed = [&] {
      auto recs = eng.event_log()->read("by-env");
      if (recs)
        for (auto& r : *recs)
          if (r.payload.find("env:PERDURE_TEST_KAFKA_SECRET") !=
              std::string::npos)
            return true;
      return false;
    };
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!armed() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    REQUIRE(armed());
    eng.cancel("by-env");
    CHECK(eng.status("by-env") == workflow_status::canceled);
  }
  ::unsetenv("PERDURE_TEST_KAFKA_SECRET");

  REQUIRE(errors.size() == 3 * std::size(refused) - 2);
  for (auto& e : errors) {
    CAPTURE(e);
    CHECK(e.find(secret) == std::string::npos);
    CHECK(e.find("pw-") == std::string::npos);
  }
  CHECK(logged.find(secret) == std::string::npos);
  CHECK(all_stored_bytes(dir.path()).find(secret) == std::string::npos);

  auto history = test::run_perdure({"history", "by-env", "--storage",
                                    dir.path().string()});
  CHECK(history.code == 0);
  CHECK(history.out.find("env:PERDURE_TEST_KAFKA_SECRET") != std::string::npos);
  for (auto args : {std::vector<std::string>{"history", "by-env"},
                    {"show", "by-env"}, {"list"}, {"history", "by-env", "--json"}}) {
    args.insert(args.end(), {"--storage", dir.path().string()});
    auto r = test::run_perdure(args);
    CAPTURE(args[0]);
    CHECK(r.code == 0);
    CHECK(r.out.find(secret) == std::string::npos);
    CHECK(r.err.find(secret) == std::string::npos);
  }
}
