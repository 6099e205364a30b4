// SPDX-License-Identifier: Apache-2.0
#pragma once

// The UI tests' fixture: the CLI fixture's storage (plus what a test adds)
// served by the ui handler on 127.0.0.1:0 in this process, a one-request
// HTTP client, and the page loaded in headless Chromium.

#include <doctest/doctest.h>

#include "chromium_page.hpp"
#include "cli_runner.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"
#include "ui.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace perdure::test {

struct reply {
  int code = 0;
  std::string body;
};

/// One HTTP/1.1 request to 127.0.0.1:port (the server closes the
/// connection); `extra` holds more header lines, each ending in "\r\n".
inline reply http(std::uint16_t port, const std::string& method,
                  const std::string& target, const std::string& extra = {}) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  auto req = method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + extra
             + "Content-Length: 0\r\n\r\n";
  REQUIRE(::send(fd, req.data(), req.size(), 0)
          == static_cast<ssize_t>(req.size()));
  std::string in;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    in.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  reply r;
  REQUIRE(in.starts_with("HTTP/1.1 "));
  r.code = std::stoi(in.substr(9, 3));
  auto body = in.find("\r\n\r\n");
  REQUIRE(body != std::string::npos);
  r.body = in.substr(body + 4);
  return r;
}

/// write_fixture's storage, then `extra`'s writes, served with `o`.
struct served {
  temp_dir dir;
  std::ostringstream out, err;
  tools::cli_io io{out, err};
  tools::http_server server;
  std::atomic<bool> stop{false};
  std::thread thread;

  explicit served(tools::ui_options o = {},
                  const std::function<void(eventlog::event_log&)>& extra
                  = {}) {
    {
      auto log = open_log(dir.path());
      write_fixture(*log);
      if (extra)
        extra(*log);
    }
    tools::context ctx;
    ctx.storage = dir.path();
    ctx.utc = true;
    ctx.io = &io;
    REQUIRE(server.open({"127.0.0.1", 0}).is_ok());
    thread = std::thread{[this, h = tools::make_ui_handler(ctx, o)] {
      server.run(h, stop);
    }};
  }
  ~served() {
    stop = true;
    thread.join();
  }
  reply get(const std::string& target, const std::string& extra = {}) {
    return http(server.port(), "GET", target, extra);
  }
  nlohmann::json get_json(const std::string& target) {
    auto r = get(target);
    REQUIRE_MESSAGE(r.code == 200, r.body);
    return nlohmann::json::parse(r.body);
  }
  nlohmann::json cli_json(std::vector<std::string> args) {
    args.insert(args.begin(), {"--storage", dir.path().string(), "--utc"});
    args.push_back("--json");
    auto r = run_perdure(args);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return nlohmann::json::parse(r.out);
  }
  /// The page at #HASH as Chromium rendered it (see chromium_dom).
  std::string dom(const std::string& hash, const std::string& shot = {}) {
    return chromium_dom(server.port(), hash, dir.path() / "chromium", shot);
  }
};

} // namespace perdure::test
