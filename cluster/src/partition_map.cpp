// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/partition_map.hpp"

#include <fmt/format.h>
#include <xxhash.h>

namespace perdure::cluster {

std::uint64_t xxh64(std::string_view bytes, std::uint64_t seed) noexcept {
  return XXH64(bytes.data(), bytes.size(), seed);
}

result<partition_map> partition_map::create(std::uint32_t partitions,
                                            std::optional<char> separator) {
  if (partitions == 0 || partitions > max_partitions)
    return unexpected{errc::invalid_argument,
                      fmt::format("partition count must be between 1 and {} "
                                  "(got {})",
                                  max_partitions, partitions)};
  return partition_map{partitions, separator};
}

std::string_view
partition_map::routing_key(std::string_view id) const noexcept {
  if (!separator_)
    return id;
  auto pos = id.find(*separator_);
  // A separator in the first position would leave an empty key that sends
  // every such id to one partition: the whole id routes instead.
  if (pos == std::string_view::npos || pos == 0)
    return id;
  return id.substr(0, pos);
}

partition_id partition_map::partition_of(std::string_view id) const noexcept {
  return static_cast<partition_id>(xxh64(routing_key(id)) % partitions_);
}

} // namespace perdure::cluster
