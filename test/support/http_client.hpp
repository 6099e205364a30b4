// SPDX-License-Identifier: Apache-2.0
#pragma once
// A plain HTTP/1.1 client for tests of /metrics endpoints on 127.0.0.1.
// Uses doctest's REQUIRE: call it on a test's main thread.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <cstdint>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace perdure::test {

struct http_reply {
  int code = 0;
  std::string headers;
  std::string body;
};

// A plain HTTP/1.1 client: one request, reads until the server closes.
// code 0 when the connection is refused.
inline http_reply http_get(std::uint16_t port, const std::string& request) {
  http_reply r;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return r;
  }
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL)
          == static_cast<ssize_t>(request.size()));
  std::string all;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto split = all.find("\r\n\r\n");
  REQUIRE(split != std::string::npos);
  r.headers = all.substr(0, split);
  r.body = all.substr(split + 4);
  r.code = std::stoi(r.headers.substr(9, 3));
  return r;
}

inline http_reply scrape(std::uint16_t port,
                         const std::string& path = "/metrics") {
  return http_get(port, "GET " + path
                          + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Accept: text/plain\r\n\r\n");
}

} // namespace perdure::test
