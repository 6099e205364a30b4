// SPDX-License-Identifier: Apache-2.0
// Seed example 8-15: a vector of workflows is resolved before the step runs.
#include <perdure/perdure.hpp>

#include <cstdio>

using namespace perdure;

const auto add = step("add", [](std::vector<int> values) {
  int s = 0;
  for (int v : values)
    s += v;
  return s;
});
const auto get_val = step("get_val", [] { return 10; });

int main() {
  engine eng;
  std::vector<workflow<int>> vals;
  for (int i = 0; i < 3; ++i)
    vals.push_back(get_val());
  std::printf("sum of three = %d\n", eng.run(add(vals)));
}
