// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/status.hpp"

namespace perdure {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::not_found: return "not_found";
    case errc::conflict: return "conflict";
    case errc::corruption: return "corruption";
    case errc::full: return "full";
    case errc::invalid_argument: return "invalid_argument";
    case errc::io: return "io";
    case errc::busy: return "busy";
    case errc::closed: return "closed";
    case errc::type_mismatch: return "type_mismatch";
    case errc::unsupported: return "unsupported";
    case errc::canceled: return "canceled";
    case errc::failed: return "failed";
    case errc::timeout: return "timeout";
    case errc::permission: return "permission";
  }
  return "unknown";
}

std::string status::to_string() const {
  if (is_ok())
    return "ok";
  std::string out{perdure::to_string(code_)};
  out += ": ";
  out += message_;
  return out;
}

} // namespace perdure
