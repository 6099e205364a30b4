// SPDX-License-Identifier: Apache-2.0
// Seed example 8-6: fibonacci as a dynamic workflow.
#include "fibonacci.hpp"

#include <cstdio>

int main() {
  perdure::engine eng;
  std::printf("fib(10) = %d\n", eng.run(samples::fibonacci::fib(10)));
}
