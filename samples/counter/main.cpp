// Seed example 8-4: a virtual actor whose state outlives the process.
#include <perdure/perdure.hpp>

#include <cassert>
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
  engine eng; // storage: $PERDURE_STORAGE or /tmp/perdure/workflow_data
  // The pid keeps the id fresh, so the sample can run again on one storage.
  auto c1 = eng.actor<counter>("counter_workflow-" + std::to_string(getpid()));
  int a = c1.call(&counter::incr);
  int b = c1.call(&counter::incr);
  assert(a == 1 && b == 2);
  std::printf("incr -> %d, incr -> %d\n", a, b);
}
