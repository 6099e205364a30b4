// SPDX-License-Identifier: Apache-2.0
#pragma once

// `perdure cluster ...` (cmd_cluster.cpp): in the `perdure` program when
// the cluster module is built, not in the perdure_tools library.

#include "perdure/tools/cli.hpp"

namespace perdure::tools {

/// Runs `perdure cluster` on `args` (args[0] is "cluster"): `check
/// BROKERS --app APP [...]` or `status BROKERS --app APP [...]`. Returns
/// the exit code (exit_code): ok when the log topic fits perdure's
/// durability needs (check) or every partition was read (status), refused
/// when the topic falls short (each problem printed), not_found without
/// the topic, failed when the brokers cannot be reached or described or a
/// partition cannot be read, usage for a bad command line.
int run_cluster_cli(int argc, const char* const* argv, const cli_io& io);

} // namespace perdure::tools
