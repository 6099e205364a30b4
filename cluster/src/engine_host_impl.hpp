// SPDX-License-Identifier: Apache-2.0
#pragma once

// engine_host's state, shared by its sources (engine_host.cpp: opening
// and closing engines, stop; engine_host_requests.cpp: requests and the
// hand-over at stop).

#include "engine_children.hpp"
#include "engine_door.hpp"
#include "perdure/cluster/engine_host.hpp"
#include "request_queue.hpp"

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <perdure/runtime/metrics_server.hpp>
#include <thread>

namespace perdure::cluster {

// An engine the host opened, and the epoch of the claim it serves.
struct hosted {
  std::shared_ptr<engine> eng;
  log_offset epoch = no_epoch;
};

struct engine_host::impl {
  engine_host_options options;
  std::optional<partition_map> map;
  std::unique_ptr<node> n;
  std::thread worker;

  std::mutex stop_mutex; // held through stop()
  mutable std::mutex mutex;
  std::condition_variable wake;
  // Guarded by mutex.
  bool dirty = true; // a role changed since the last reconcile
  bool stopping = false;
  bool stopped = false;
  std::vector<hosted> engines; // per partition; eng null: none
  // Per partition: the store and epoch of an engine being opened (its
  // resumed workflows run before open returns; store null: none); the
  // engines being closed, which serve their epoch until closed.
  std::vector<std::pair<const eventlog::event_log*, log_offset>> opening;
  std::vector<hosted> closing_engines;
  engine_host_counters counts;
  // The node's own metrics; /metrics when metrics_address is set (it goes
  // first at stop: it reads the host).
  metrics::registry registry;
  std::unique_ptr<metrics::server> http;
  // The door (serve_address), and the host it serves once made.
  std::unique_ptr<engine_door> door;
  std::atomic<engine_host*> self{nullptr};
  // What the engines reach the host through (child workflows of another
  // partition); its host is cleared at the end of stop().
  std::shared_ptr<host_link> link = std::make_shared<host_link>();
  // Keyed requests (engine_keyed.hpp): the keys made here, the locks.
  std::atomic<std::uint64_t> keys{0};
  std::array<std::mutex, 64> keyed;
  // request_async's threads (host_actor::call_async).
  std::unique_ptr<request_queue> async;

  void log_line(eventlog::log_level level, const std::string& text) const {
    eventlog::emit(options.node.log.log, level, text);
  }
  void changed() {
    {
      std::lock_guard guard{mutex};
      dirty = true;
    }
    wake.notify_all();
  }
  void run();
  // Opens and closes engines to match the node's roles; true when an
  // open failed and is worth retrying.
  bool reconcile();
  // Opens partition s's engine; false when it failed (retry later).
  bool open_engine(const partition_status& s);
  void close_engine(partition_id p, hosted h, std::string_view why);
  // stop()'s handover (engine_host_options::handover_wait).
  void hand_over();
};

} // namespace perdure::cluster
