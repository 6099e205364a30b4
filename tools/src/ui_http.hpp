// SPDX-License-Identifier: Apache-2.0
#pragma once

// The small HTTP/1.1 server behind `perdure ui`: a few threads, one
// request per connection (Connection: close), plain sockets. It parses
// the request line, headers, query and body and hands them to a handler;
// it knows nothing of perdure's storage.

#include "perdure/eventlog/status.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace perdure::tools {

/// A parsed request. Header names are lower case; query values are
/// percent-decoded.
struct http_request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;
  std::string body;
};

struct http_response {
  int code = 200;
  std::string content_type = "application/json";
  std::string body;
};

/// HOST:PORT as given to --listen: "127.0.0.1:8233", "[::1]:0",
/// "0.0.0.0:8233". `invalid_argument` with the reason otherwise.
struct listen_address {
  std::string host;
  std::uint16_t port = 0;
};
result<listen_address> parse_listen(std::string_view text);

/// Whether `host` (a numeric address) is a loopback address.
bool is_loopback(std::string_view host);

/// Percent-decodes `text` ('+' is a space).
std::string url_decode(std::string_view text);

using http_handler = std::function<http_response(const http_request&)>;

/// A listening socket and the loop that serves it.
class http_server {
public:
  http_server() = default;
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  ~http_server();

  /// Binds and listens on `addr`; `io` with the system's reason on
  /// failure (e.g. the port in use).
  status open(const listen_address& addr);

  /// The bound port (the chosen one when 0 was asked for).
  std::uint16_t port() const noexcept {
    return port_;
  }

  /// Serves requests until `stop` becomes true (checked every 100 ms) on
  /// `workers` threads (this one and workers - 1 more, at least one), each
  /// taking the next connection; `handler` is then called concurrently.
  void run(const http_handler& handler, const std::atomic<bool>& stop,
           std::size_t workers = 1);

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

} // namespace perdure::tools
