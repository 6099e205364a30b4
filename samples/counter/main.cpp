// SPDX-License-Identifier: Apache-2.0
// Seed example 8-4: a virtual actor whose state outlives the process.
#include <perdure/perdure.hpp>

#include <cstdio>
#include <unistd.h>

using namespace perdure;

struct counter {
  int count = 0;
  int incr() {
    return ++count;
  }
};
PERDURE_ACTOR(counter, (count), (incr))

int main() {
  engine eng; // storage: $PERDURE_STORAGE or ~/.local/state/perdure
  // The pid keeps the id fresh, so the sample can run again on one storage.
  auto c1 = eng.actor<counter>("counter_workflow-" + std::to_string(getpid()));
  int a = c1.call(&counter::incr);
  int b = c1.call(&counter::incr);
  if (a != 1 || b != 2) { // checked in every build type, unlike assert
    std::fprintf(stderr, "counter: expected 1 then 2, got %d then %d\n", a, b);
    return 1;
  }
  std::printf("incr -> %d, incr -> %d\n", a, b);
}
