// SPDX-License-Identifier: Apache-2.0
#pragma once

// The /metrics endpoint's address parsing; the server is public
// (perdure/runtime/metrics_server.hpp, implemented in metrics_http.cpp).

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

} // namespace perdure::detail
