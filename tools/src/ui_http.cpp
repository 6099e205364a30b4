// SPDX-License-Identifier: Apache-2.0
// The HTTP server of `perdure ui` (see ui_http.hpp).

#include "ui_http.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include <fmt/format.h>

namespace perdure::tools {

namespace {

constexpr std::size_t max_head_bytes = 16 * 1024;
constexpr std::size_t max_body_bytes = 64 * 1024;

status invalid(std::string_view text, std::string_view why) {
  return {errc::invalid_argument,
          fmt::format("--listen '{}': {}; use e.g. 127.0.0.1:8233, "
                      "[::1]:8233 or 127.0.0.1:0 for a free port",
                      text, why)};
}

const char* reason(int code) {
  switch (code) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 409: return "Conflict";
  case 413: return "Payload Too Large";
  default: return "Internal Server Error";
  }
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string{s};
}

// Parses "METHOD TARGET HTTP/1.x\r\nName: value\r\n..." (no body).
bool parse_head(std::string_view head, http_request& req) {
  auto eol = head.find("\r\n");
  auto line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1)
    return false;
  req.method = std::string{line.substr(0, sp1)};
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto q = target.find('?');
  req.path = url_decode(target.substr(0, q));
  if (q != std::string_view::npos) {
    auto rest = target.substr(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto pair = rest.substr(0, amp);
      auto eq = pair.find('=');
      auto key = url_decode(pair.substr(0, eq));
      req.query[key] = eq == std::string_view::npos
                         ? std::string{}
                         : url_decode(pair.substr(eq + 1));
      if (amp == std::string_view::npos)
        break;
      rest.remove_prefix(amp + 1);
    }
  }
  while (eol != std::string_view::npos) {
    auto start = eol + 2;
    eol = head.find("\r\n", start);
    auto h = head.substr(start, eol == std::string_view::npos
                                  ? std::string_view::npos
                                  : eol - start);
    auto colon = h.find(':');
    if (colon == std::string_view::npos)
      continue;
    req.headers[lower(std::string{h.substr(0, colon)})] =
      trim(h.substr(colon + 1));
  }
  return true;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0)
      return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void reply(int fd, const http_response& r, bool head) {
  auto out = fmt::format(
    "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
    "Connection: close\r\n\r\n",
    r.code, reason(r.code), r.content_type, r.body.size());
  if (!head)
    out += r.body;
  send_all(fd, out);
}

http_response error_response(int code, std::string_view why) {
  return {code, "application/json",
          fmt::format("{{\"error\":\"{}\"}}\n", why)};
}

// Reads one request from `fd` and answers it.
void serve(int fd, const http_handler& handler) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string in;
  char buf[4096];
  std::size_t head_end = std::string::npos;
  while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
    if (in.size() > max_head_bytes)
      return reply(fd, error_response(413, "request head too large"), false);
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return;
    in.append(buf, static_cast<std::size_t>(n));
  }
  http_request req;
  if (!parse_head(std::string_view{in}.substr(0, head_end + 2), req))
    return reply(fd, error_response(400, "malformed request line"), false);
  std::size_t length = 0;
  if (auto it = req.headers.find("content-length"); it != req.headers.end())
    length = std::strtoull(it->second.c_str(), nullptr, 10);
  if (length > max_body_bytes)
    return reply(fd, error_response(413, "request body too large"), false);
  req.body = in.substr(head_end + 4);
  while (req.body.size() < length) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return;
    req.body.append(buf, static_cast<std::size_t>(n));
  }
  bool head = req.method == "HEAD";
  if (head)
    req.method = "GET";
  http_response r;
  try {
    r = handler(req);
  } catch (const std::exception& e) {
    r = error_response(500, "internal error");
  }
  reply(fd, r, head);
}

} // namespace

std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size()
               && std::isxdigit(static_cast<unsigned char>(text[i + 1]))
               && std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(
        std::stoi(std::string{text.substr(i + 1, 2)}, nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

result<listen_address> parse_listen(std::string_view text) {
  listen_address a;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find("]:");
    if (close == std::string_view::npos)
      return invalid(text, "an IPv6 address is written [ADDR]:PORT");
    a.host = std::string{text.substr(1, close - 1)};
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return invalid(text, "no port");
    a.host = std::string{text.substr(0, colon)};
    port = text.substr(colon + 1);
  }
  if (a.host == "localhost")
    a.host = "127.0.0.1";
  in6_addr v6{};
  in_addr v4{};
  if (::inet_pton(AF_INET, a.host.c_str(), &v4) != 1
      && ::inet_pton(AF_INET6, a.host.c_str(), &v6) != 1)
    return invalid(text, "the host is not a numeric address");
  if (port.empty() || port.size() > 5
      || port.find_first_not_of("0123456789") != std::string_view::npos)
    return invalid(text, "the port is not a number");
  auto p = std::stoul(std::string{port});
  if (p > 65535)
    return invalid(text, "the port is above 65535");
  a.port = static_cast<std::uint16_t>(p);
  return a;
}

bool is_loopback(std::string_view host) {
  in_addr v4{};
  std::string h{host};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

http_server::~http_server() {
  if (fd_ >= 0)
    ::close(fd_);
}

status http_server::open(const listen_address& addr) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
      ::inet_pton(AF_INET, addr.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(addr.port);
    len = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET6, addr.host.c_str(), &v6->sin6_addr) != 1)
      return {errc::invalid_argument,
              fmt::format("'{}' is not a numeric address", addr.host)};
    v6->sin6_family = family = AF_INET6;
    v6->sin6_port = htons(addr.port);
    len = sizeof(sockaddr_in6);
  }
  fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0)
    return {errc::io, fmt::format("ui: socket: {}", std::strerror(errno))};
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0
      || ::listen(fd_, 64) != 0)
    return {errc::io, fmt::format("ui: cannot listen on {}:{}: {}",
                                  addr.host, addr.port,
                                  std::strerror(errno))};
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(family == AF_INET
                  ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                  : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return {};
}

void http_server::run(const http_handler& handler,
                      const std::atomic<bool>& stop, std::size_t workers) {
  // The listening socket is non-blocking: every worker wakes on a new
  // connection, one accepts it, the others go back to waiting.
  auto loop = [&] {
    while (!stop.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        continue;
      serve(c, handler);
      ::close(c);
    }
  };
  std::vector<std::thread> more;
  for (std::size_t i = 1; i < workers; ++i)
    more.emplace_back(loop);
  loop();
  for (auto& t : more)
    t.join();
}

} // namespace perdure::tools
