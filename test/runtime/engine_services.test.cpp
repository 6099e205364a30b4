// SPDX-License-Identifier: Apache-2.0
// engine::service: an optional module's per-engine state is owned by the
// engine (no process-global registry): one object per class and engine,
// made once, stopped when the engine closes.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <thread>
#include <vector>

using namespace perdure;

namespace {

struct counting_service : engine_service {
  std::atomic<int> stops{0};
  void stop() override {
    ++stops;
  }
};

struct other_service : counting_service {};

} // namespace

TEST_CASE("engine::service makes one object per class and engine and stops it at close") {
  test::temp_dir dir;
  std::atomic<int> made{0};
  auto make = [&] {
    ++made;
    return std::make_shared<counting_service>();
  };
  std::shared_ptr<counting_service> first, in_b;
  {
    engine a{{.storage = dir / "a"}};
    engine b{{.storage = dir / "b"}};
    std::vector<std::shared_ptr<counting_service>> seen(8);
    std::vector<std::thread> ts;
    for (std::size_t i = 0; i < seen.size(); ++i)
      ts.emplace_back([&, i] { seen[i] = a.service<counting_service>(make); });
    for (auto& t : ts)
      t.join();
    first = seen[0];
    for (auto& s : seen)
      CHECK(s == first);
    CHECK(made == 1);
    in_b = b.service<counting_service>(make);
    CHECK(in_b != first); // another engine, another object
    CHECK(made == 2);
    auto other = a.service<other_service>(
      [] { return std::make_shared<other_service>(); });
    CHECK(static_cast<const void*>(other.get())
          != static_cast<const void*>(first.get()));
    CHECK(first->stops == 0);
    REQUIRE(a.close());
    CHECK(first->stops == 1);
    CHECK(other->stops == 1);
    CHECK(in_b->stops == 0);
    // After close: the same object, not a new one, and not started again.
    CHECK(a.service<counting_service>(make) == first);
    CHECK(made == 2);
    // Something attached after close is stopped at once.
    auto late = std::make_shared<counting_service>();
    a.attach(late);
    CHECK(late->stops == 1);
  }
  CHECK(first->stops == 1); // ~engine does not stop it twice
  CHECK(in_b->stops == 1);
}
