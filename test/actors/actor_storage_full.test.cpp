// SPDX-License-Identifier: Apache-2.0
// A storage without room reaches an actor's caller as `full` (not `io`),
// and every call the caller saw succeed stays: after a reopen with room
// the actor's state is that of its acknowledged calls (or of one more, the
// call the full disk caught, if its record was durable after all), and it
// takes calls again. The disk is a file-size limit in a child process.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"

#include <sys/resource.h>

#include <csignal>
#include <iostream>
#include <sstream>
#include <string>

using namespace perdure;

namespace {

// A state-logged actor: each call logs its whole state, 256 KiB.
struct sf_blob {
  std::string data;
  int calls = 0;
  int fill(int i) {
    data.assign(std::size_t{256} << 10, static_cast<char>('a' + i % 26));
    return ++calls;
  }
  int count() const {
    return calls;
  }
  char letter() const {
    return data.empty() ? '-' : data.front();
  }
};
PERDURE_ACTOR(sf_blob, (data, calls), (fill, count, letter))

} // namespace

PERDURE_CHILD_ENTRY("actor-fill-with-file-limit") {
  std::signal(SIGXFSZ, SIG_IGN); // EFBIG instead of the signal
  rlimit lim{rlim_t{64} << 20, rlim_t{64} << 20};
  ::setrlimit(RLIMIT_FSIZE, &lim);
  engine eng{{.storage = args.at(0)}};
  auto a = eng.actor<sf_blob>("blob");
  int acked = 0;
  for (int i = 0; i < 2000; ++i) {
    auto r = a.try_call(&sf_blob::fill, i);
    if (!r) {
      std::cout << "failed " << to_string(r.error().code()) << ' '
                << r.error().message() << std::endl;
      break;
    }
    if (*r != i + 1)
      return 3;
    ++acked;
  }
  std::cout << "acked " << acked << std::endl;
  return 0;
}

TEST_CASE("a full disk reaches an actor's caller as full and every "
          "acknowledged call stays") {
  test::temp_dir dir;
  test::child_process child{"actor-fill-with-file-limit",
                            {dir.path().string()}};
  std::string failed_code, failed_message;
  int acked = -1;
  for (auto line = child.read_line(std::chrono::minutes{5}); !line.empty();
       line = child.read_line(std::chrono::minutes{5})) {
    MESSAGE(line);
    std::istringstream in{line};
    std::string word;
    in >> word;
    if (word == "failed") {
      in >> failed_code;
      std::getline(in, failed_message);
    } else if (word == "acked") {
      in >> acked;
    }
  }
  CHECK(child.wait() == 0);
  CHECK(failed_code == "full");
  CHECK(failed_message.find("File too large") != std::string::npos);
  REQUIRE(acked > 10);

  engine eng{{.storage = dir.path()}};
  auto a = eng.actor<sf_blob>("blob");
  auto n = a.call(&sf_blob::count);
  CHECK((n == acked || n == acked + 1));
  CHECK(a.call(&sf_blob::letter) == static_cast<char>('a' + (n - 1) % 26));
  CHECK(a.call(&sf_blob::fill, n) == n + 1);
  CHECK(a.call(&sf_blob::letter) == static_cast<char>('a' + n % 26));
}
