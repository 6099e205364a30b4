// SPDX-License-Identifier: Apache-2.0
// Seed example 8-5: outputs of steps as arguments of another step.
#include <perdure/perdure.hpp>

#include <cstdio>

using namespace perdure;

const auto sum = step("sum", [](int x, int y, int z) { return x + y + z; });
const auto get_value1 = step("get_value1", [] { return 100; });
const auto get_value2 = step("get_value2", [](int x) { return 10 * x; });

int main() {
  engine eng;
  auto v = eng.run(sum(get_value1(), get_value2(10), 100), "sum_example");
  std::printf("sum = %d (get_value2 = %d)\n", v,
              eng.output<int>("sum_example", "get_value2"));
}
