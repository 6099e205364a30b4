// SPDX-License-Identifier: Apache-2.0
// The partition_log contract every implementation keeps (the fakes and the
// Kafka log add their own tests beside this one).

#include <doctest/doctest.h>

#include "perdure/cluster/partition_log.hpp"

#include <type_traits>

using namespace perdure::cluster;

TEST_CASE("partition_log is an abstract interface with a virtual destructor") {
  CHECK(std::is_abstract_v<partition_log>);
  CHECK(std::has_virtual_destructor_v<partition_log>);
  log_record r{.offset = 7, .bytes = "x"};
  CHECK(r.offset == 7);
}
