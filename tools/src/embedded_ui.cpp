// SPDX-License-Identifier: Apache-2.0
// The UI served by an application (perdure/tools/embedded_ui.hpp): the
// handler of `perdure ui` on the engine's own log (LMDB allows one
// environment per storage and process), as an engine service.

#include "perdure/tools/embedded_ui.hpp"

#include "ui.hpp"

#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace perdure::tools {

namespace {

// Requests served at once (the engine's log is shared by them).
constexpr std::size_t workers = 4;

class ui_service final : public engine_service {
 public:
  explicit ui_service(actor_fold fold) {
    io_.fold = std::move(fold);
  }
  ~ui_service() override {
    stop();
  }

  status start(engine& eng, const listen_address& addr,
               const ui_options& o, bool utc) {
    if (auto st = server_.open(addr); !st.is_ok())
      return st;
    context ctx;
    ctx.storage = eng.storage();
    ctx.utc = utc;
    ctx.io = &io_;
    ctx.log = eng.event_log();
    // The handler (and so the log) lives in the thread and goes with it.
    thread_ = std::thread{[this, h = make_ui_handler(ctx, o)] {
      server_.run(h, stop_, workers);
    }};
    return {};
  }

  std::uint16_t port() const noexcept {
    return server_.port();
  }

  void stop() override {
    std::call_once(stopped_, [&] {
      stop_ = true;
      if (thread_.joinable())
        thread_.join();
    });
  }

 private:
  std::ostringstream out_, err_; // unused: each request has its own
  cli_io io_{out_, err_};
  http_server server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::once_flag stopped_;
};

} // namespace

result<std::uint16_t> serve_ui(engine& eng, std::string_view address,
                               const embedded_ui_options& o) {
  auto addr = parse_listen(address);
  if (!addr) {
    auto why = addr.error().message();
    if (why.starts_with("--listen "))
      why.erase(0, 9);
    return status{errc::invalid_argument, "ui_address " + why};
  }
  if (!is_loopback(addr->host) && !o.allow_remote)
    return status{errc::invalid_argument,
                  fmt::format("ui_address '{}' is not a loopback address; "
                              "set embedded_ui_options::allow_remote to "
                              "serve other machines (and consider a token)",
                              address)};
  ui_options uo;
  uo.listen = std::string{address};
  uo.allow_remote = o.allow_remote;
  uo.allow_writes = o.allow_writes;
  uo.token = o.token;
  uo.redact = o.redact;
  auto s = std::make_shared<ui_service>(o.fold);
  if (auto st = s->start(eng, *addr, uo, o.utc); !st.is_ok())
    return st;
  auto port = s->port();
  eng.attach(std::move(s));
  return port;
}

std::function<result<std::uint16_t>(engine&, std::string_view)>
embedded_ui(embedded_ui_options o) {
  return [o = std::move(o)](engine& eng, std::string_view address) {
    return serve_ui(eng, address, o);
  };
}

} // namespace perdure::tools
