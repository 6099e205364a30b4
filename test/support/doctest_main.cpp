// SPDX-License-Identifier: Apache-2.0
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "child_process.hpp"

// A test binary doubles as the child process of its crash tests: when its
// first argument is "--child", it runs the registered child entry instead of
// the tests (see child_process.hpp).
int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view{argv[1]} == "--child")
    return perdure::test::run_child(argc - 2, argv + 2);
  doctest::Context ctx{argc, argv};
  return ctx.run();
}
