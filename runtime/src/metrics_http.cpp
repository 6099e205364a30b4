// SPDX-License-Identifier: Apache-2.0
// The /metrics endpoint: a plain-socket HTTP/1.1 server, one thread, poll().
// It answers one request per connection and closes it, which is all a
// Prometheus scraper needs, and keeps the server small enough to review.

#include "metrics_http.hpp"
#include "perdure/runtime/metrics_server.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace perdure::detail {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t max_request_bytes = 8192;
constexpr std::size_t max_connections = 64;
constexpr auto connection_timeout = std::chrono::seconds{10};

status invalid(std::string_view text, std::string_view why) {
  return {errc::invalid_argument,
          fmt::format("metrics_address '{}': {}; use e.g. 127.0.0.1:9100, "
                      "[::1]:9100 or 127.0.0.1:0 for an ephemeral port",
                      text, why)};
}

status sys_error(const char* call) {
  return {errc::io, fmt::format("metrics server: {}: {}", call,
                                std::strerror(errno))};
}

struct connection {
  int fd = -1;
  std::string in;
  std::string out;
  std::size_t sent = 0;
  clock_type::time_point deadline;
};

std::string response(int code, std::string_view reason,
                     std::string_view content_type, std::string_view body,
                     bool head, std::string_view extra_headers = {}) {
  auto out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\n"
                         "Content-Length: {}\r\nConnection: close\r\n{}\r\n",
                         code, reason, content_type, body.size(),
                         extra_headers);
  if (!head)
    out.append(body);
  return out;
}

} // namespace

result<loopback_address> parse_metrics_address(std::string_view text) {
  loopback_address a;
  std::string_view host, port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size()
        || text[close + 1] != ':')
      return unexpected{invalid(text, "expected [ipv6]:port")};
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    a.ipv6 = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return unexpected{invalid(text, "expected host:port")};
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5
      || port.find_first_not_of("0123456789") != std::string_view::npos
      || std::stoul(std::string{port}) > 65535)
    return unexpected{invalid(text, "the port must be a number 0..65535")};
  a.port = static_cast<std::uint16_t>(std::stoul(std::string{port}));
  if (host == "localhost") {
    a.host = "127.0.0.1";
    a.ipv6 = false;
    return a;
  }
  a.host = std::string{host};
  if (a.ipv6) {
    in6_addr v6{};
    if (inet_pton(AF_INET6, a.host.c_str(), &v6) != 1)
      return unexpected{invalid(text, "not an IPv6 address")};
    if (!IN6_IS_ADDR_LOOPBACK(&v6))
      return unexpected{invalid(text, "not a loopback address (metrics are "
                                      "only served on this machine)")};
    return a;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, a.host.c_str(), &v4) != 1)
    return unexpected{invalid(text, "not an IPv4 address or 'localhost'")};
  if ((ntohl(v4.s_addr) >> 24) != 127)
    return unexpected{invalid(text, "not a loopback address (metrics are "
                                    "only served on this machine)")};
  return a;
}

} // namespace perdure::detail

namespace perdure::metrics {

using namespace perdure::detail;

struct server::impl {
  int listen_fd = -1;
  int wake[2] = {-1, -1}; ///< written once by the destructor
  std::uint16_t port = 0;
  std::function<std::string()> body;
  std::vector<connection> conns;
  std::thread thread;

  ~impl() {
    for (auto& c : conns)
      ::close(c.fd);
    for (int fd : {listen_fd, wake[0], wake[1]})
      if (fd >= 0)
        ::close(fd);
  }

  void serve() {
    std::vector<pollfd> fds;
    for (;;) {
      fds.clear();
      fds.push_back({wake[0], POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      for (auto& c : conns)
        fds.push_back(
          {c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
      int n = ::poll(fds.data(), fds.size(), 1000);
      if (n < 0 && errno != EINTR)
        return;
      if (fds[0].revents)
        return; // the engine closes
      auto now = clock_type::now();
      // Service the connections first: accepting below may grow `conns`.
      for (std::size_t i = 0; i < conns.size(); ++i) {
        auto ev = fds[i + 2].revents;
        bool keep = now < conns[i].deadline;
        if (keep && ev)
          keep = (ev & (POLLIN | POLLOUT)) ? step(conns[i], ev) : false;
        if (!keep) {
          ::close(conns[i].fd);
          conns[i].fd = -1;
        }
      }
      std::erase_if(conns, [](auto& c) { return c.fd < 0; });
      if (fds[1].revents & POLLIN)
        accept_all(now);
    }
  }

  void accept_all(clock_type::time_point now) {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        return; // EAGAIN, or a client that gave up
      if (conns.size() >= max_connections) {
        ::close(fd);
        continue;
      }
      conns.push_back({fd, {}, {}, 0, now + connection_timeout});
    }
  }

  // Reads or writes what the socket allows; false when the connection is
  // over (answered, closed by the peer, or broken).
  bool step(connection& c, short ev) {
    if (c.out.empty()) {
      if (!(ev & POLLIN))
        return true;
      char buf[2048];
      auto got = ::recv(c.fd, buf, sizeof buf, 0);
      if (got == 0)
        return false;
      if (got < 0)
        return errno == EAGAIN || errno == EINTR;
      c.in.append(buf, static_cast<std::size_t>(got));
      if (c.in.find("\r\n\r\n") != std::string::npos)
        c.out = answer(c.in);
      else if (c.in.size() > max_request_bytes)
        c.out = response(431, "Request Header Fields Too Large",
                         "text/plain", "request too large\n", false);
      return true;
    }
    auto put = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent,
                      MSG_NOSIGNAL);
    if (put < 0)
      return errno == EAGAIN || errno == EINTR;
    c.sent += static_cast<std::size_t>(put);
    if (c.sent < c.out.size())
      return true;
    // All sent: a FIN after the response tells the client it has all of it.
    ::shutdown(c.fd, SHUT_WR);
    return false;
  }

  std::string answer(const std::string& request) {
    auto line_end = request.find("\r\n");
    auto line = std::string_view{request}.substr(0, line_end);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos
        || !line.substr(sp2 + 1).starts_with("HTTP/1."))
      return response(400, "Bad Request", "text/plain", "bad request\n",
                      false);
    auto method = line.substr(0, sp1);
    auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    target = target.substr(0, target.find('?'));
    bool head = method == "HEAD";
    if (method != "GET" && !head)
      return response(405, "Method Not Allowed", "text/plain",
                      "only GET /metrics\n", false, "Allow: GET, HEAD\r\n");
    if (target != "/metrics")
      return response(404, "Not Found", "text/plain",
                      "not found; metrics are at /metrics\n", head);
    return response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                    body(), head);
  }
};

result<std::unique_ptr<server>> server::start(
  std::string_view address, std::function<std::string()> body) {
  auto addr = parse_metrics_address(address);
  if (!addr)
    return std::move(addr).error();
  auto p = std::make_unique<impl>();
  p->body = std::move(body);
  int family = addr->ipv6 ? AF_INET6 : AF_INET;
  p->listen_fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          0);
  if (p->listen_fd < 0)
    return unexpected{sys_error("socket")};
  int one = 1;
  ::setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (addr->ipv6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(addr->port);
    inet_pton(AF_INET6, addr->host.c_str(), &s6->sin6_addr);
    len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(addr->port);
    inet_pton(AF_INET, addr->host.c_str(), &s4->sin_addr);
    len = sizeof(sockaddr_in);
  }
  if (::bind(p->listen_fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    auto st = sys_error("bind");
    return unexpected{errc::io, fmt::format("{} (address {})", st.message(),
                                            address)};
  }
  if (::listen(p->listen_fd, 16) != 0)
    return unexpected{sys_error("listen")};
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  if (::getsockname(p->listen_fd, reinterpret_cast<sockaddr*>(&bound), &blen)
      != 0)
    return unexpected{sys_error("getsockname")};
  p->port = ntohs(addr->ipv6
                    ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (::pipe2(p->wake, O_CLOEXEC) != 0)
    return unexpected{sys_error("pipe2")};
  auto* raw = p.get();
  p->thread = std::thread{[raw] {
    eventlog::set_thread_name("perdure-http");
    raw->serve();
  }};
  return std::unique_ptr<server>{new server{std::move(p)}};
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

server::~server() {
  char c = 1;
  if (::write(impl_->wake[1], &c, 1) < 0) {
    // nop: the pipe cannot be full (one byte, written once)
  }
  impl_->thread.join();
}

std::uint16_t server::port() const noexcept {
  return impl_->port;
}

} // namespace perdure::metrics
