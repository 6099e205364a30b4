// SPDX-License-Identifier: Apache-2.0
// Seed example 8-11: methods that return sub-workflows. `double_it(false)`
// returns the doubling step; `double_it(true)` passes its output on to a step
// that calls the actor's own `update` (a sub-workflow may call its actor).
#include <perdure/perdure.hpp>

#include <cstdio>
#include <unistd.h>

using namespace perdure;

std::string actor_id;

struct Actor {
  int val = 1;
  workflow<int> double_it(bool update);
  int update(int v) {
    val = v;
    return val;
  }
};
PERDURE_ACTOR(Actor, (val), (double_it, update))

const auto double_step = step("double", [](int s) { return 2 * s; });
const auto update_step = step("update", [](int v) {
  // A step reaches its engine through this_step::engine().
  return this_step::engine().get_actor<Actor>(actor_id).call(&Actor::update,
                                                             v);
});

workflow<int> Actor::double_it(bool update) {
  auto s = double_step(val);
  if (!update)
    return s;          // a workflow launched inside the method
  return update_step(s); // passed on to another method
}

int main() {
  engine e;
  actor_id = "actor-" + std::to_string(getpid());
  auto handler = e.actor<Actor>(actor_id);
  int a = handler.call(&Actor::double_it, false);
  int b = handler.call(&Actor::double_it, false);
  int c = handler.call(&Actor::double_it, true);
  int d = handler.call(&Actor::double_it, true);
  if (a != 2 || b != 2 || c != 2 || d != 4) {
    std::fprintf(stderr, "actor_subworkflows: expected 2 2 2 4, got %d %d %d %d\n",
                 a, b, c, d);
    return 1;
  }
  std::printf("double: %d %d %d %d\n", a, b, c, d);
}
