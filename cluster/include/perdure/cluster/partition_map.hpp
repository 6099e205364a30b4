// SPDX-License-Identifier: Apache-2.0
#pragma once

// Which partition a workflow or actor id belongs to. The partition count P
// is fixed when a cluster is created: the map is a pure function of P, the
// separator and the id, so every node, every build and the CLI agree, and a
// change to it would move ids between partitions (tests pin known values).

#include "perdure/eventlog/status.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace perdure::cluster {

/// A partition's number, 0 .. P-1 (Kafka's partition of the log topic).
using partition_id = std::uint32_t;

/// XXH64 of `bytes` with `seed` (the xxHash library's XXH64, 0.8.x).
std::uint64_t xxh64(std::string_view bytes, std::uint64_t seed = 0) noexcept;

/// Maps ids to partitions: partition = XXH64(routing key, seed 0) mod P.
///
/// The routing key is the whole id, unless a separator is configured and
/// occurs in the id after its first character: then it is the part before
/// the first separator. With separator '/': `order-17/payment` and
/// `order-17/ship/2` route by `order-17`, so an order's workflows and
/// actors share a partition; `order-17` itself routes by `order-17` too;
/// `/x` and `plain` route by the whole id. Copyable, immutable,
/// thread-safe.
class partition_map {
 public:
  /// The default partition count (≥ 4 × the expected number of nodes).
  static constexpr std::uint32_t default_partitions = 64;
  /// The largest partition count (Kafka numbers partitions with int32).
  static constexpr std::uint32_t max_partitions = 0x7fffffff;

  /// A map over `partitions` partitions. Errors: invalid_argument when
  /// `partitions` is 0 or above max_partitions.
  static result<partition_map>
  create(std::uint32_t partitions = default_partitions,
         std::optional<char> separator = std::nullopt);

  /// P, the number of partitions.
  std::uint32_t partitions() const noexcept {
    return partitions_;
  }

  /// The separator, if routing keys are prefixes.
  std::optional<char> separator() const noexcept {
    return separator_;
  }

  /// The part of `id` that chooses its partition (see the class comment);
  /// a view into `id`.
  std::string_view routing_key(std::string_view id) const noexcept;

  /// The partition of `id`: xxh64(routing_key(id)) % partitions().
  partition_id partition_of(std::string_view id) const noexcept;

 private:
  partition_map(std::uint32_t partitions, std::optional<char> separator)
      : partitions_(partitions)
      , separator_(separator) {}

  std::uint32_t partitions_;
  std::optional<char> separator_;
};

} // namespace perdure::cluster
