// SPDX-License-Identifier: Apache-2.0
// The `perdure` binary: everything happens in perdure_tools, except
// `perdure cluster` (cmd_cluster.cpp, with the cluster module).

#include "perdure/tools/cli.hpp"

#ifdef PERDURE_CLI_CLUSTER
#include "cmd_cluster.hpp"
#endif

#include <iostream>
#include <string_view>

#include <unistd.h>

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  perdure::tools::cli_io io{std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1,
                            ::isatty(STDERR_FILENO) == 1};
#ifdef PERDURE_CLI_CLUSTER
  if (argc > 1 && std::string_view{argv[1]} == "cluster") {
    int code = perdure::tools::run_cluster_cli(argc - 1, argv + 1, io);
    std::cout.flush();
    return code;
  }
#endif
  int code = perdure::tools::run_cli(argc, argv, io);
#ifdef PERDURE_CLI_CLUSTER
  if (argc == 2 && (std::string_view{argv[1]} == "--help"
                    || std::string_view{argv[1]} == "-h"))
    std::cout << "\nOn a cluster: perdure cluster check|status BROKERS "
                 "--app APP (see 'perdure cluster --help').\n";
#endif
  std::cout.flush();
  return code;
}
