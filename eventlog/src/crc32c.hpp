// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>

namespace perdure::eventlog::detail {

/// CRC-32C (Castagnoli) of `n` bytes, continuing from `crc` (0 to start).
/// Uses the SSE4.2 instruction when the CPU has it.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t n) noexcept;

} // namespace perdure::eventlog::detail
