// SPDX-License-Identifier: Apache-2.0
// engine_options::accept_id: an engine stores only the workflow ids it
// accepts (a cluster partition's engine, its partition's ids). A refused
// id returns the check's error to run, submit_batch and a child node,
// and nothing is stored; generated ids are drawn until accepted.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <string>

using namespace perdure;

namespace {

std::atomic<int> ai_runs{0};

const auto ai_inc = step("ai_inc", [](int x) {
  ++ai_runs;
  return x + 1;
});

// Accepts ids starting with "a-", or ending in 'a' (a generated id whose
// last, random, hex digit is 'a': one draw in 16).
engine_options only_a(const test::temp_dir& dir) {
  engine_options o;
  o.storage = dir / "s";
  o.accept_id = [](std::string_view id) -> status {
    if (id.starts_with("a-") || id.ends_with('a'))
      return {};
    return status{errc::conflict, "'" + std::string{id} + "' is not here"};
  };
  return o;
}

} // namespace

TEST_CASE("a refused workflow id fails the run with the check's error and "
          "stores nothing") {
  test::temp_dir dir;
  engine eng{only_a(dir)};
  ai_runs = 0;
  auto r = eng.try_run(ai_inc(1), "b-1");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::conflict);
  CHECK(r.error().message().find("'b-1' is not here") != std::string::npos);
  CHECK(ai_runs == 0);
  CHECK(eng.try_status("b-1").error().code() == errc::not_found);
  CHECK(eng.run(ai_inc(1), "a-1") == 2);
  // Generated ids are drawn until accepted.
  for (int i = 0; i < 20; ++i) {
    auto h = eng.run_async(ai_inc(i));
    CHECK(h.id().back() == 'a');
    CHECK(h.get() == i + 1);
  }
}

TEST_CASE("a refused id in a batch writes none of the batch") {
  test::temp_dir dir;
  engine eng{only_a(dir)};
  std::vector<new_run> runs(2);
  runs[0].root = ai_inc(1).node();
  runs[0].id = "a-ok";
  runs[1].root = ai_inc(2).node();
  runs[1].id = "b-no";
  auto r = eng.submit_batch(std::move(runs), [](eventlog::write_batch&) {});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::conflict);
  CHECK(eng.try_status("a-ok").error().code() == errc::not_found);
}

TEST_CASE("a child node whose id is refused fails the parent with the "
          "check's error and starts nothing") {
  test::temp_dir dir;
  engine eng{only_a(dir)};
  ai_runs = 0;
  auto r = eng.try_run(ai_inc(child(ai_inc(1), "b-kid")), "a-parent");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message().find("'b-kid' is not here")
        != std::string::npos);
  CHECK(ai_runs == 0);
  CHECK(eng.try_status("b-kid").error().code() == errc::not_found);
  // A child it accepts runs.
  CHECK(eng.run(ai_inc(child(ai_inc(1), "a-kid")), "a-parent2") == 3);
}
