// Seed example 8-6: fibonacci as a dynamic workflow.
#include <perdure/perdure.hpp>

#include <cstdio>

using namespace perdure;

flow<int> fib_impl(int n);
const auto add = step("add", [](int a, int b) { return a + b; });
const auto fib = step("fib", fib_impl);
flow<int> fib_impl(int n) {
  if (n <= 1)
    return n;
  return add(fib(n - 1), fib(n - 2));
}

int main() {
  engine eng;
  std::printf("fib(10) = %d\n", eng.run(fib(10)));
}
