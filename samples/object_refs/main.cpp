// SPDX-License-Identifier: Apache-2.0
// Seed example 8-14: objects stored once and passed by reference.
#include <perdure/perdure.hpp>

#include <cstdio>

using namespace perdure;

const auto add = step("add", [](int a, int b) { return a + b; });

int main() {
  engine eng;
  auto a = eng.put(10);
  auto b = eng.put(20);
  std::printf("add = %d\n", eng.run(add(a, b)));
}
