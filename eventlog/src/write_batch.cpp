// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/write_batch.hpp"

#include "encoding.hpp"

namespace perdure::eventlog {

using op_type = write_batch::op::type;

write_batch& write_batch::append(std::string_view stream, std::uint16_t kind,
                                 std::string payload) {
  ops_.push_back({op_type::append, std::string{stream}, std::move(payload), kind});
  ++records_;
  return *this;
}

write_batch& write_batch::expect_last(std::string_view stream, seq_t last) {
  ops_.push_back({op_type::expect_last, std::string{stream}, {}, last});
  return *this;
}

write_batch& write_batch::create(std::string_view stream, stream_kind kind,
                                 std::string metadata) {
  ops_.push_back({op_type::create, std::string{stream}, std::move(metadata),
                  static_cast<std::uint64_t>(kind)});
  return *this;
}

write_batch& write_batch::set_status(std::string_view stream,
                                     std::string status) {
  ops_.push_back({op_type::set_status, std::string{stream}, std::move(status), 0});
  return *this;
}

write_batch& write_batch::set_metadata(std::string_view stream,
                                       std::string metadata) {
  ops_.push_back(
    {op_type::set_metadata, std::string{stream}, std::move(metadata), 0});
  return *this;
}

write_batch& write_batch::set_snapshot(std::string_view stream, seq_t seq) {
  ops_.push_back({op_type::set_snapshot, std::string{stream}, {}, seq});
  return *this;
}

write_batch& write_batch::drop_before(std::string_view stream, seq_t seq) {
  ops_.push_back({op_type::drop_before, std::string{stream}, {}, seq});
  return *this;
}

write_batch& write_batch::remove(std::string_view stream) {
  ops_.push_back({op_type::remove, std::string{stream}, {}, 0});
  return *this;
}

write_batch& write_batch::put_timer(time_ns due, std::string_view stream,
                                    std::string_view tag) {
  ops_.push_back({op_type::put_timer, std::string{stream}, std::string{tag},
                  static_cast<std::uint64_t>(due)});
  return *this;
}

write_batch& write_batch::remove_timer(time_ns due, std::string_view stream,
                                       std::string_view tag) {
  ops_.push_back({op_type::remove_timer, std::string{stream}, std::string{tag},
                  static_cast<std::uint64_t>(due)});
  return *this;
}

write_batch& write_batch::put_offset(std::string_view key, std::int64_t value) {
  ops_.push_back({op_type::put_offset, std::string{key}, {},
                  static_cast<std::uint64_t>(value)});
  return *this;
}

std::string write_batch::put_blob(std::string bytes) {
  auto key = detail::sha256_hex(bytes);
  ops_.push_back({op_type::put_blob, key, std::move(bytes), 0});
  return key;
}

write_batch& write_batch::note(std::string_view feed, std::string_view source,
                               std::uint16_t kind) {
  ops_.push_back({op_type::note, std::string{feed}, std::string{source}, kind});
  ++records_;
  return *this;
}

write_batch write_batch::from_ops(std::vector<op> ops) {
  write_batch b;
  for (auto& o : ops)
    if (o.what == op_type::append || o.what == op_type::note)
      ++b.records_;
  b.ops_ = std::move(ops);
  return b;
}

} // namespace perdure::eventlog
