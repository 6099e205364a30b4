// SPDX-License-Identifier: Apache-2.0
#pragma once

// The engine's /metrics endpoint: a minimal HTTP/1.1 server on one thread
// that answers GET /metrics on a loopback address and nothing else.

#include "perdure/eventlog/status.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace perdure::detail {

/// A parsed `host:port` that is a loopback address.
struct loopback_address {
  bool ipv6 = false;
  std::string host; ///< numeric: "127.0.0.1" or "::1"
  std::uint16_t port = 0;
};

/// Parses "127.0.0.1:9100", "localhost:0" or "[::1]:9100". Fails
/// `invalid_argument` for malformed text and for any address that is not
/// loopback (metrics are not served beyond this machine).
result<loopback_address> parse_metrics_address(std::string_view text);

/// Serves GET /metrics with the text `body()` returns, 404 for other paths,
/// 405 for other methods; one request per connection (`Connection: close`).
class metrics_server {
 public:
  /// Binds and listens on `address` (port 0: an ephemeral port) and starts
  /// the serving thread. Fails `invalid_argument` (see parse_metrics_address)
  /// or `io` when the socket cannot be bound.
  static result<std::unique_ptr<metrics_server>> start(
    std::string_view address, std::function<std::string()> body);

  /// Stops the thread and closes every socket.
  ~metrics_server();
  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  /// The bound port.
  std::uint16_t port() const noexcept;

  struct impl;

 private:
  explicit metrics_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace perdure::detail
