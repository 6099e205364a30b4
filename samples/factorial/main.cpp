// SPDX-License-Identifier: Apache-2.0
// Seed example 8-3: recursion as a dynamic workflow.
#include <perdure/perdure.hpp>

#include <cstdio>

using namespace perdure;

const auto mult = step("mult", [](int a, int b) { return a * b; });
flow<int> factorial_impl(int n);
const auto factorial = step("factorial", factorial_impl);
flow<int> factorial_impl(int n) {
  if (n == 1)
    return 1;
  return mult(n, factorial(n - 1));
}

int main() {
  engine eng;
  std::printf("factorial(5) = %d\n", eng.run(factorial(5)));
}
