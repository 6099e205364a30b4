// SPDX-License-Identifier: Apache-2.0
// Seed example 8-10: a counter with a readonly `value` (not logged, runs
// beside other calls on the last committed state).
#include <perdure/perdure.hpp>

#include <cstdio>
#include <unistd.h>

using namespace perdure;

struct Counter {
  int val = 0;
  explicit Counter(int init_val = 0) : val(init_val) {
  }
  void incr(int by) {
    val += by;
    std::printf("%d\n", val);
  }
  int value() const {
    return val;
  }
};
PERDURE_ACTOR(Counter, (val), (incr, value))

int main() {
  engine eng;
  auto counter =
    eng.actor<Counter>("my_counter-" + std::to_string(getpid()), 0);
  counter.call(&Counter::incr, 10);
  if (int v = counter.call(&Counter::value); v != 10) {
    std::fprintf(stderr, "readonly_counter: value %d after one incr of 10\n", v);
    return 1;
  }
  // Non-blocking: the async call and the next one run in submission order.
  auto pending = counter.call_async(&Counter::incr, 10);
  counter.call(&Counter::incr, 10);
  pending.get();
  // A readonly call_async returns at once; the call runs on the actors'
  // pool against the last committed state.
  auto reading = counter.call_async(&Counter::value);
  int v = reading.get();
  if (v != 30) {
    std::fprintf(stderr, "readonly_counter: value %d after three incr of 10\n", v);
    return 1;
  }
  std::printf("value = %d\n", v);
}
