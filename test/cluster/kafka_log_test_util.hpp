// SPDX-License-Identifier: Apache-2.0
#pragma once

// Helpers of the kafka_log tests: appends awaited, reads until a count.

#include "perdure/cluster/kafka_log.hpp"

#include "kafka_mock_process.hpp"
#include "wait_until.hpp"

#include <condition_variable>
#include <future>
#include <mutex>

namespace perdure::test {

using namespace std::chrono_literals;

/// A mock cluster of 3 brokers with topic perdure.<app>.log of
/// `partitions` partitions, 3 replicas each.
inline std::unique_ptr<kafka_mock_process>
start_mock(const std::string& app, int partitions) {
  auto mock = std::make_unique<kafka_mock_process>(
      std::vector<std::string>{"--brokers", "3"});
  auto answer = mock->command("topic " + cluster::kafka_log_topic(app) + " "
                              + std::to_string(partitions));
  if (answer != "ok")
    throw std::runtime_error{"mock topic: " + answer};
  return mock;
}

/// Options for the log of `app` on `mock`, tuned for the mock's latency.
inline cluster::kafka_log_options
log_options(const kafka_mock_process& mock, const std::string& app) {
  return {.brokers = mock.bootstrap(),
          .app = app,
          .properties = {{"fetch.wait.max.ms", "5"}},
          .log = [](eventlog::log_level, std::string_view) {}};
}

/// Appends and waits for the answer.
inline result<cluster::log_offset> append_wait(cluster::partition_log& log,
                                               std::string bytes) {
  auto p = std::make_shared<std::promise<result<cluster::log_offset>>>();
  auto f = p->get_future();
  log.append(std::move(bytes), [p](result<cluster::log_offset> r) {
    p->set_value(std::move(r));
  });
  if (f.wait_for(120s) != std::future_status::ready)
    return unexpected{errc::timeout, "no answer to an append in 120 s"};
  return f.get();
}

/// Reads from `from` until `count` records came or a minute passed.
inline std::vector<cluster::log_record>
read_count(cluster::partition_log& log, cluster::log_offset from,
           std::size_t count) {
  std::vector<cluster::log_record> out;
  wait_until(
      [&] {
        auto next = out.empty() ? from : out.back().offset + 1;
        auto r = log.read(next, count - out.size(), 200ms);
        if (r)
          out.insert(out.end(), r->begin(), r->end());
        return out.size() >= count;
      },
      60s, 0ms);
  return out;
}

/// Counts the answers of pipelined appends.
struct append_tally {
  std::mutex m;
  std::condition_variable cv;
  std::vector<result<cluster::log_offset>> answers; // by append number
  std::size_t answered = 0;

  explicit append_tally(std::size_t n)
      : answers(n, unexpected{errc::timeout, "no answer"}) {
  }
  cluster::partition_log::append_done done(std::size_t i) {
    return [this, i](result<cluster::log_offset> r) {
      std::lock_guard g{m};
      answers[i] = std::move(r);
      ++answered;
      cv.notify_all();
    };
  }
  std::size_t count() {
    std::lock_guard g{m};
    return answered;
  }
};

} // namespace perdure::test
