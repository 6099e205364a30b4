// SPDX-License-Identifier: Apache-2.0
// The `perdure` binary: everything happens in perdure_tools.

#include "perdure/tools/cli.hpp"

#include <iostream>

#include <unistd.h>

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  perdure::tools::cli_io io{std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1,
                            ::isatty(STDERR_FILENO) == 1};
  int code = perdure::tools::run_cli(argc, argv, io);
  std::cout.flush();
  return code;
}
