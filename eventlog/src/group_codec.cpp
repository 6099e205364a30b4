// SPDX-License-Identifier: Apache-2.0
// A group commit as the journal encodes it (group_codec.hpp).

#include "perdure/eventlog/group_codec.hpp"

#include "crc32c.hpp"
#include "journal.hpp"

#include <cstring>

#include <fmt/format.h>

namespace perdure::eventlog {

std::string encode_group(time_ns now, std::span<const write_batch> batches) {
  std::vector<const write_batch*> ptrs;
  ptrs.reserve(batches.size());
  for (auto& b : batches)
    ptrs.push_back(&b);
  std::string out;
  detail::encode_entry(out, 0, 0, now, ptrs, 0);
  return out;
}

std::size_t encoded_size(const write_batch& b) noexcept {
  return detail::entry_batch_size(b);
}

std::size_t
encoded_group_size(std::span<const write_batch> batches) noexcept {
  auto n = detail::entry_fixed_size();
  for (auto& b : batches)
    n += encoded_size(b);
  return n;
}

result<decoded_group> decode_group(std::string_view bytes) {
  constexpr auto head = detail::journal_entry_head;
  if (bytes.size() < head)
    return unexpected{errc::corruption,
                      fmt::format("group of {} bytes is shorter than its "
                                  "{}-byte head",
                                  bytes.size(), head)};
  std::uint32_t len = 0, crc = 0;
  std::memcpy(&len, bytes.data(), 4);
  std::memcpy(&crc, bytes.data() + 4, 4);
  if (len != bytes.size() - head)
    return unexpected{errc::corruption,
                      fmt::format("group says {} bytes, has {}", len,
                                  bytes.size() - head)};
  auto body = bytes.substr(head);
  if (detail::crc32c(0, body.data(), body.size()) != crc)
    return unexpected{errc::corruption, "group fails its checksum"};
  detail::journal_entry e;
  if (!detail::decode_entry(body, 0, detail::journal_version, e)
      || e.void_txn || e.checkpoint || e.seal)
    return unexpected{errc::corruption, "group is not a well-formed group "
                                        "entry"};
  return decoded_group{e.now, std::move(e.batches)};
}

} // namespace perdure::eventlog
