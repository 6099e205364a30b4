// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/log_entry.hpp"

#include "perdure/cluster/partition_map.hpp"

#include <cassert>
#include <cstring>
#include <fmt/format.h>

namespace perdure::cluster {

namespace {

// Layout (little-endian):
//   [0..7]   u64 XXH64 (seed 0) of bytes [8..end), in every version, so
//            garbage is told from a newer version
//   [8]      u8  format version
//   [9]      u8  kind
//   [10..]   the kind's body; a claim's body in version 2 ends with the
//            endpoint (u8 length, bytes), in version 1 it has none
constexpr std::size_t header_size = 10;

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_identity(std::string& out, const node_identity& who) {
  assert(!who.node.empty() && who.node.size() <= max_node_id_size);
  put_u8(out, static_cast<std::uint8_t>(who.node.size()));
  out += who.node;
  put_le(out, who.incarnation, 8);
}

// Reads fields from a span; every read checks the bounds first.
class reader {
 public:
  explicit reader(std::string_view in)
      : in_(in) {}

  bool u8(std::uint8_t& v) {
    if (in_.size() - pos_ < 1)
      return false;
    v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }

  bool le(std::uint64_t& v, int bytes) {
    if (in_.size() - pos_ < static_cast<std::size_t>(bytes))
      return false;
    v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= std::uint64_t{static_cast<std::uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += bytes;
    return true;
  }

  bool str(std::string& v, std::size_t n) {
    if (in_.size() - pos_ < n)
      return false;
    v.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }

  bool identity(node_identity& who) {
    std::uint8_t n = 0;
    return u8(n) && n > 0 && str(who.node, n) && le(who.incarnation, 8);
  }

  bool at_end() const {
    return pos_ == in_.size();
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

status corrupt(std::string_view what, std::size_t size) {
  return status{errc::corruption,
                fmt::format("log entry of {} bytes: {}", size, what)};
}

} // namespace

std::string to_string(const node_identity& who) {
  return fmt::format("{}#{}", who.node, who.incarnation);
}

entry_kind kind_of(const log_entry& entry) noexcept {
  return std::holds_alternative<claim_entry>(entry) ? entry_kind::claim
                                                    : entry_kind::group;
}

std::string encode(const log_entry& entry) {
  std::string out;
  put_le(out, 0, 8); // checksum, filled in below
  put_u8(out, log_entry_version);
  put_u8(out, static_cast<std::uint8_t>(kind_of(entry)));
  if (auto* c = std::get_if<claim_entry>(&entry)) {
    put_identity(out, c->claimant);
    assert(c->endpoint.size() <= max_endpoint_size);
    put_u8(out, static_cast<std::uint8_t>(c->endpoint.size()));
    out += c->endpoint;
  } else {
    auto& g = std::get<group_entry>(entry);
    assert(g.bytes.size() <= 0xffffffffu);
    put_le(out, static_cast<std::uint64_t>(g.epoch), 8);
    put_identity(out, g.writer);
    put_le(out, g.sequence, 8);
    put_le(out, g.bytes.size(), 4);
    out += g.bytes;
  }
  auto sum = xxh64(std::string_view{out}.substr(8));
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  return out;
}

result<log_entry> decode(std::string_view bytes) {
  if (bytes.size() < header_size)
    return corrupt(fmt::format("shorter than the {}-byte header", header_size),
                   bytes.size());
  reader in{bytes};
  std::uint64_t sum = 0;
  (void)in.le(sum, 8);
  if (sum != xxh64(bytes.substr(8)))
    return corrupt("checksum mismatch", bytes.size());
  std::uint8_t version = 0;
  (void)in.u8(version);
  if (version > log_entry_version)
    return unexpected{errc::unsupported,
                      fmt::format("log entry format version {} is newer than "
                                  "this build (it reads up to {})",
                                  version, log_entry_version)};
  if (version == 0)
    return corrupt("format version 0", bytes.size());
  std::uint8_t kind = 0;
  (void)in.u8(kind);
  log_entry entry;
  bool ok = false;
  if (kind == static_cast<std::uint8_t>(entry_kind::claim)) {
    claim_entry c;
    ok = in.identity(c.claimant);
    std::uint8_t n = 0;
    if (ok && version >= 2)
      ok = in.u8(n) && in.str(c.endpoint, n);
    entry = std::move(c);
  } else if (kind == static_cast<std::uint8_t>(entry_kind::group)) {
    group_entry g;
    std::uint64_t epoch = 0, size = 0;
    ok = in.le(epoch, 8) && in.identity(g.writer) && in.le(g.sequence, 8) &&
         in.le(size, 4) && in.str(g.bytes, size);
    g.epoch = static_cast<log_offset>(epoch);
    entry = std::move(g);
  } else {
    return unexpected{errc::unsupported,
                      fmt::format("log entry kind {} is unknown to this "
                                  "build",
                                  kind)};
  }
  if (!ok)
    return corrupt("truncated body", bytes.size());
  if (!in.at_end())
    return corrupt("trailing bytes after the body", bytes.size());
  return entry;
}

} // namespace perdure::cluster
