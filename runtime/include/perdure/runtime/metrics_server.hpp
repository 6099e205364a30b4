// SPDX-License-Identifier: Apache-2.0
#pragma once

// A minimal HTTP/1.1 server on one thread that answers GET /metrics on a
// loopback address and nothing else: what an engine serves when
// engine_options::metrics_address is set, and what a process serving
// several engines (a cluster node) serves once for all of them.

#include "perdure/eventlog/status.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace perdure::metrics {

/// Serves GET /metrics with the text `body()` returns (called on the
/// server's thread per request), 404 for other paths, 405 for other
/// methods; one request per connection (`Connection: close`).
class server {
 public:
  /// Binds and listens on `address` ("127.0.0.1:9100", "[::1]:9100",
  /// "localhost:0"; port 0: an ephemeral port) and starts the serving
  /// thread. Fails `invalid_argument` for a malformed or non-loopback
  /// address (metrics are only served on this machine) or `io` when the
  /// socket cannot be bound.
  static result<std::unique_ptr<server>> start(
    std::string_view address, std::function<std::string()> body);

  /// Stops the thread and closes every socket.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The bound port.
  std::uint16_t port() const noexcept;

  struct impl;

 private:
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace perdure::metrics
