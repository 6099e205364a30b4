// SPDX-License-Identifier: Apache-2.0
#pragma once

// A Kafka subscription's state and its consumer thread (kafka.cpp: the
// consumer loop, partitions, offsets and workflow submissions;
// kafka_delivery.cpp: deliver_to's pipelined actor calls).

#include "kafka_common.hpp"
#include "perdure/eventlog/log_sink.hpp"
#include "perdure/listeners/kafka.hpp"

#include <atomic>
#include <fmt/format.h>
#include <functional>
#include <future>
#include <librdkafka/rdkafka.h>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace perdure {

namespace detail {

/// The dead letter of a record that could not be decoded or turned into a
/// call or a workflow.
inline dead_letter undecodable(const kafka_record& r, std::string_view why) {
  return {r.topic, r.partition, r.offset, r.key, r.value,
          fmt::format("undecodable: {}", why), {}};
}

/// Why a record's call or workflow failed, as its dead letter says.
inline std::string dl_reason_of(const status& st) {
  return st.to_string();
}

/// Adds what every commit of consumed records writes beside its effects:
/// the dead letters of `poison` (stream `dead_letter_stream(src)`) and the
/// next offset to consume of each partition in `next` (kafka.cpp).
void add_consumed(eventlog::write_batch& b, const kafka_source& src,
                  const std::vector<dead_letter>& poison,
                  const std::map<std::int32_t, std::int64_t>& next = {});

} // namespace detail

struct subscription::impl : engine_service,
                            std::enable_shared_from_this<subscription::impl> {
  engine* eng = nullptr;
  kafka_source src;
  record_workflow target;
  record_delivery delivery; ///< used when `to_actors`
  bool to_actors = false;
  record_signal signals; ///< used when `signals.make` is set
  eventlog::log_sink log; ///< the engine's; librdkafka's lines go there
  rd_kafka_t* rk = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> records{0}, started{0}, dead{0}, commits{0};
  mutable std::mutex mu;
  std::string error; ///< guarded by mu
  std::once_flag stopped;
  std::uint64_t lag_metric = 0; ///< engine metrics callback (0: none)

  ~impl() override {
    stop();
  }

  void set_error(std::string e) {
    std::lock_guard guard{mu};
    error = std::move(e);
  }

  /// Stops the consumer thread, the lag metric and the consumer.
  void stop() override;

  // -- the consumer loop (kafka.cpp) --------------------------------------

  /// The consumer thread: assign, consume, commit batch after batch.
  void run();
  std::vector<std::int32_t> partitions();
  void report_lag(const std::vector<std::int32_t>& parts);
  bool assign(const std::vector<std::int32_t>& parts);
  std::function<void(const perdure::status&)>
  dead_letter_on_failure(const kafka_record& r, const std::string& wf);
  void commit_to_broker(const std::map<std::int32_t, std::int64_t>& next);
  bool commit(std::vector<rd_kafka_message_t*>& msgs);
  /// signal_workflows: the batch's signals and offsets in one commit
  /// (kafka_signals.cpp).
  bool commit_signals(std::vector<rd_kafka_message_t*>& msgs);
  rd_kafka_message_t* next_message(int timeout_ms);
  void drop_fetched();

  // Messages taken from librdkafka in one call and not consumed yet: a
  // batch call per up to `fetch_batch` messages instead of one poll each.
  static constexpr std::size_t fetch_batch = 1024;
  std::vector<rd_kafka_message_t*> fetched;
  std::size_t fetched_at = 0;
  rd_kafka_queue_t* queue = nullptr;

  // -- deliver_to (kafka_delivery.cpp) -------------------------------------
  //
  // A batch's calls are all started at once (the actors group their
  // commits; each actor runs its calls in submission order, which is
  // partition order). While they run, the next batch is consumed and
  // started; then the first is settled: its calls are awaited (a throwing
  // method retried), and its dead letters and next offsets committed. So
  // at most two batches are applied beyond the stored offsets; after a
  // crash they are consumed again and each call's idempotency key returns
  // the logged outcome without running the method again.
  struct pending_call {
    kafka_record r;
    record_delivery::waiter wait;
  };
  struct pending_batch {
    std::vector<pending_call> calls;
    std::vector<dead_letter> poison;
    std::map<std::int32_t, std::int64_t> next;
    std::size_t records = 0;
  };
  // The offsets commit of the last settled batch, submitted, not awaited.
  struct pending_offsets {
    std::future<result<eventlog::commit_info>> commit;
    std::size_t records = 0, dead = 0, applied = 0;
    std::map<std::int32_t, std::int64_t> next;
  };
  std::optional<pending_offsets> offsets;
  std::optional<pending_batch> in_flight; ///< started, unsettled
  // Records per key in the batch being consumed. A batch ends early at
  // hot_key_limit() records of one key, so the keys of the two batches a
  // replay may meet (times the attempts) fit an actor's default key window
  // of 1024: the replay recognises every one of them.
  std::unordered_map<std::string, std::size_t> per_key;

  static bool transient(const status& st);
  bool start_call(const kafka_record& r, int attempt,
                  record_delivery::waiter& out,
                  std::vector<dead_letter>& poison);
  pending_batch issue(const std::vector<rd_kafka_message_t*>& msgs);
  pending_batch issue_grouped(const std::vector<rd_kafka_message_t*>& msgs,
                              pending_batch pb);
  static void drain(pending_batch& pb);
  bool settle(pending_batch& pb);
  bool confirm_offsets();
  std::size_t hot_key_limit() const;
  bool hot_key(const rd_kafka_message_t* m);
  bool settle_in_flight();
  bool deliver(std::vector<rd_kafka_message_t*>& msgs);
};

} // namespace perdure
