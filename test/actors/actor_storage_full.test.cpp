// SPDX-License-Identifier: Apache-2.0
// A storage without room reaches an actor's caller as `full` (not `io`),
// and every call the caller saw succeed stays: after a reopen with room
// the actor's state is that of its acknowledged calls (or of one more, the
// call the full disk caught, if its record was durable after all), and it
// takes calls again. The disk is a file-size limit in a child process.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "fill_report.hpp"
#include "temp_dir.hpp"

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
  test::limit_file_size(rlim_t{64} << 20);
  engine eng{{.storage = args.at(0)}};
  auto a = eng.actor<sf_blob>("blob");
  test::fill_until_refused(2000, [&](int i) {
    auto r = a.try_call(&sf_blob::fill, i);
    if (!r)
      return r.error();
    return *r == i + 1 ? status{} : status{errc::corruption, "a wrong count"};
  });
  return 0;
}

TEST_CASE("a full disk reaches an actor's caller as full and every "
          "acknowledged call stays") {
  test::temp_dir dir;
  const int acked = test::fill_to_full("actor-fill-with-file-limit", dir.path());

  engine eng{{.storage = dir.path()}};
  auto a = eng.actor<sf_blob>("blob");
  auto n = a.call(&sf_blob::count);
  CHECK((n == acked || n == acked + 1));
  CHECK(a.call(&sf_blob::letter) == static_cast<char>('a' + (n - 1) % 26));
  CHECK(a.call(&sf_blob::fill, n) == n + 1);
  CHECK(a.call(&sf_blob::letter) == static_cast<char>('a' + n % 26));
}
