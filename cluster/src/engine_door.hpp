// SPDX-License-Identifier: Apache-2.0
#pragma once

// An engine_host's door: a small CAF actor system of its own (the io
// middleman loaded) that publishes one actor on a loopback or private
// address, answering requests other nodes forward, and that sends this
// node's forwarded requests to other nodes' doors. Each request is served
// on a thread of its own (a run blocks until its workflow's output), never
// on CAF's scheduler threads.

#include "perdure/eventlog/status.hpp"

#include "perdure/cluster/engine_host.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::cluster {

class engine_door {
 public:
  /// Serves one request: kind, id, name, bytes -> the answer's bytes.
  using handler = std::function<result<std::string>(
    std::uint8_t kind, const std::string& id, const std::string& name,
    const std::string& bytes)>;

  /// Publishes the door on `address` ("host:port", port 0: ephemeral).
  /// Watched doors (watch()) are pinged; one that answers no ping for
  /// `suspect_after` counts as gone (0: only a closed connection does).
  /// Errors: invalid_argument (no "host:port"), io (publish failed).
  static result<std::unique_ptr<engine_door>>
  start(std::string_view address, handler serve,
        std::chrono::milliseconds suspect_after = {});
  /// close(), then waits for requests being served.
  ~engine_door();
  engine_door(const engine_door&) = delete;
  engine_door& operator=(const engine_door&) = delete;

  /// "host:port", the port the door actually listens on.
  const std::string& endpoint() const noexcept;
  std::uint16_t port() const noexcept;

  /// Stops taking requests (unpublishes; requests arriving later fail
  /// closed). Requests being served finish; wait() waits for them.
  void close();
  void wait();

  /// Tells every process watching this door (watch()) that this one is
  /// leaving: they call their `gone` at once, as if it had died, so its
  /// partitions are taken over without waiting for the consumer group.
  /// The door keeps serving requests until close(). Returns at once.
  void leave();
  /// How many watches other processes registered at this door (each one
  /// hears leave()).
  std::uint64_t watched_by() const noexcept;
  /// How many watchers wait to hear leave() now: one whose process died
  /// or whose connection dropped is let go (CAF's down message for its
  /// proxy), so this stays at the number of live watchers.
  std::uint64_t watching() const noexcept;
  /// Sends a request to the door at `endpoint` and waits for its answer
  /// at most `timeout`. Errors: the remote's; io when the door cannot be
  /// reached (its connection is dropped: the next call connects again);
  /// timeout.
  result<std::string> call(const std::string& endpoint, std::uint8_t kind,
                           std::string_view id, std::string_view name,
                           std::string bytes,
                           std::chrono::milliseconds timeout);

  /// Watches another node's door at `endpoint`: connects to it (without
  /// blocking the caller) and calls `gone` once its connection closes, a
  /// connection is refused (its process is gone: a killed process's
  /// sockets close at once), its process leaves (leave()) or, with
  /// suspect_after, a ping went
  /// unanswered that long (a paused or hung process keeps its sockets). An endpoint is
  /// watched once at a time; after `gone`, watch() connects again.
  /// `gone` runs on a CAF thread and must be quick; it is set once, by
  /// the first call.
  void watch(const std::string& endpoint,
             std::function<void(const std::string&)> gone);

  /// Counters: requests sent to other doors, tries again, served here.
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::uint64_t> forward_retries{0};
  std::atomic<std::uint64_t> served{0};
  /// Partitions this node claimed because their owner's process was gone
  /// or leaving.
  std::atomic<std::uint64_t> taken_over{0};

  struct impl;

 private:
  explicit engine_door(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

/// Watches the door of every other process that owns a partition in
/// `parts` (engine_door::watch); when one is gone, `n` takes over the
/// partitions partitions_to_take_over gives it (node::take_over), before
/// the consumer group notices. `door` and `n` outlive the watches (the
/// door is destroyed first).
void watch_owners(engine_door& door, node& n,
                  const std::vector<partition_status>& parts);

/// Runs a request on this host's engine for `id` (engine_host::
/// engine_for): what a door serves. When another node leads the id, or
/// none does yet, fails busy (the sender tries again).
result<std::string> serve_request(engine_host& host,
                                  const engine_host_options& options,
                                  request_kind kind, const std::string& id,
                                  const std::string& name,
                                  const std::string& bytes);

/// A request_kind::status answer (one byte) as the status it names.
/// Errors: r's; corruption for another size.
result<workflow_status> status_answer(result<std::string> r);

/// engine_host::request: served here when this host leads the id, else
/// sent to the owner's door; tried again while the owner is unknown,
/// busy, changing or away, until `deadline` (engine_host::request:
/// options.forward_deadline; 0: one try).
result<std::string> forward_request(engine_host& host,
                                    engine_door* door,
                                    const engine_host_options& options,
                                    request_kind kind, std::string_view id,
                                    std::string_view name, std::string bytes,
                                    std::chrono::milliseconds deadline);

} // namespace perdure::cluster
