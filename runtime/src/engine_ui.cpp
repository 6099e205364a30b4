// SPDX-License-Identifier: Apache-2.0
// What an engine serves over HTTP: /metrics (metrics_http.cpp) and the web
// UI of engine_options::ui_address, whose server the tools module provides
// through engine_options::ui_server (the runtime never links the tools).

#include "engine_impl.hpp"

#include <fmt/format.h>

namespace perdure {

namespace detail {

perdure::status check_served(const engine_options& o) {
  if (!o.metrics_address.empty())
    if (auto a = parse_metrics_address(o.metrics_address); !a)
      return std::move(a).error();
  if (!o.ui_address.empty() && !o.ui_server)
    return {errc::invalid_argument,
            fmt::format("ui_address '{}' needs engine_options::ui_server: "
                        "link perdure_tools_embedded and set it to "
                        "perdure::tools::embedded_ui() "
                        "(perdure/tools/embedded_ui.hpp)",
                        o.ui_address)};
  return {};
}

} // namespace detail

perdure::status engine::finish_open() {
  auto& p = *impl_;
  if (!p.opts.ui_address.empty()) {
    auto port = p.opts.ui_server(*this, p.opts.ui_address);
    if (!port) {
      // Stops what was attached (nothing was resumed yet); the failure to
      // report is the UI's.
      static_cast<void>(close());
      return std::move(port).error();
    }
    p.ui_port = *port;
  }
  resume_on_open();
  return {};
}

std::optional<std::uint16_t> engine::metrics_port() const noexcept {
  if (!impl_->metrics_http)
    return std::nullopt;
  return impl_->metrics_http->port();
}

std::optional<std::uint16_t> engine::ui_port() const noexcept {
  return impl_->ui_port;
}

} // namespace perdure
