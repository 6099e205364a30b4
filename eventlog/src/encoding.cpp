// SPDX-License-Identifier: Apache-2.0
#include "encoding.hpp"

#include "crc32c.hpp"
#include "record_generated.h"

#include <openssl/evp.h>

#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace perdure::eventlog::detail {

namespace {

std::uint32_t checksum(std::string_view key, std::string_view body) {
  auto c = crc32c(0, key.data(), key.size());
  return crc32c(c, body.data(), body.size());
}

void put_le32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

std::uint32_t get_le32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Wraps a finished FlatBuffer (and an optional tail) into header + body.
std::string frame(std::string_view key, const flatbuffers::FlatBufferBuilder& fbb,
                  std::string_view tail) {
  auto env_size = fbb.GetSize();
  std::string out;
  out.resize(frame_header_size + env_size + tail.size());
  out[4] = static_cast<char>(format_version);
  put_le32(out.data() + 8, static_cast<std::uint32_t>(env_size));
  std::memcpy(out.data() + frame_header_size, fbb.GetBufferPointer(), env_size);
  if (!tail.empty())
    std::memcpy(out.data() + frame_header_size + env_size, tail.data(),
                tail.size());
  put_le32(out.data(), checksum(key, std::string_view{out}.substr(4)));
  return out;
}

// Checks header and checksum; returns the envelope bytes and the tail.
status check_frame(std::string_view key, std::string_view value,
                   std::string_view& env, std::string_view& tail) {
  if (value.size() < frame_header_size)
    return {errc::corruption, "value shorter than its header"};
  if (checksum(key, value.substr(4)) != get_le32(value.data()))
    return {errc::corruption, "checksum mismatch"};
  auto version = static_cast<std::uint8_t>(value[4]);
  if (version != format_version)
    return {errc::unsupported, fmt::format("format version {}", version)};
  std::size_t env_size = get_le32(value.data() + 8);
  if (frame_header_size + env_size > value.size())
    return {errc::corruption, "envelope longer than the value"};
  env = value.substr(frame_header_size, env_size);
  tail = value.substr(frame_header_size + env_size);
  return {};
}

// FlatBuffers reads scalars through aligned pointers, and LMDB values are only
// 2-byte aligned: envelopes are copied to aligned storage before they are read.
struct aligned_copy {
  alignas(16) unsigned char small[512];
  std::vector<std::uint64_t> big;
  const std::uint8_t* data = nullptr;

  explicit aligned_copy(std::string_view bytes) {
    if (bytes.size() <= sizeof(small)) {
      std::memcpy(small, bytes.data(), bytes.size());
      data = small;
    } else {
      big.resize((bytes.size() + 7) / 8);
      std::memcpy(big.data(), bytes.data(), bytes.size());
      data = reinterpret_cast<const std::uint8_t*>(big.data());
    }
  }
};

} // namespace

void put_be64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint64_t get_be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string log_key(std::string_view stream, seq_t seq) {
  std::string k;
  k.reserve(stream.size() + 9);
  k.append(stream);
  k.push_back('\0');
  put_be64(k, seq);
  return k;
}

bool parse_log_key(std::string_view key, std::string_view& stream,
                   seq_t& seq) {
  if (key.size() < 10 || key[key.size() - 9] != '\0')
    return false;
  stream = key.substr(0, key.size() - 9);
  seq = get_be64(key.data() + key.size() - 8);
  return stream.find('\0') == std::string_view::npos;
}

std::string status_key(std::string_view status, std::string_view stream) {
  std::string k;
  k.reserve(status.size() + 1 + stream.size());
  k.append(status);
  k.push_back('\0');
  k.append(stream);
  return k;
}

std::string timer_key(time_ns due, std::string_view stream,
                      std::string_view tag) {
  std::string k;
  k.reserve(8 + stream.size() + 1 + tag.size());
  put_be64(k, static_cast<std::uint64_t>(due) ^ (std::uint64_t{1} << 63));
  k.append(stream);
  k.push_back('\0');
  k.append(tag);
  return k;
}

bool parse_timer_key(std::string_view key, timer_entry& out) {
  if (key.size() < 10)
    return false;
  out.due = static_cast<time_ns>(get_be64(key.data())
                                 ^ (std::uint64_t{1} << 63));
  auto rest = key.substr(8);
  auto nul = rest.find('\0');
  if (nul == std::string_view::npos)
    return false;
  out.stream = std::string{rest.substr(0, nul)};
  out.tag = std::string{rest.substr(nul + 1)};
  return true;
}

std::string frame_record(std::string_view key, std::uint16_t kind, time_ns time,
                         std::string_view writer, std::string_view payload) {
  flatbuffers::FlatBufferBuilder fbb{64 + writer.size()};
  auto w = fbb.CreateString(writer.data(), writer.size());
  fb::recordBuilder b{fbb};
  b.add_kind(kind);
  b.add_time_ns(time);
  b.add_writer(w);
  b.add_payload_size(payload.size());
  fbb.Finish(b.Finish());
  return frame(key, fbb, payload);
}

status unframe_record(std::string_view key, std::string_view value,
                      record_view& out) {
  std::string_view env, tail;
  if (auto st = check_frame(key, value, env, tail); !st)
    return st;
  aligned_copy copy{env};
  flatbuffers::Verifier v{copy.data, env.size()};
  if (!v.VerifyBuffer<fb::record>(nullptr))
    return {errc::corruption, "record envelope fails its schema"};
  auto rec = flatbuffers::GetRoot<fb::record>(copy.data);
  if (rec->payload_size() != tail.size())
    return {errc::corruption, "payload size differs from the envelope"};
  out.kind = rec->kind();
  out.time = rec->time_ns();
  // The writer string lives in `copy`; point at the same bytes in `value`.
  if (auto w = rec->writer()) {
    auto off = reinterpret_cast<const std::uint8_t*>(w->data()) - copy.data;
    out.writer = env.substr(static_cast<std::size_t>(off), w->size());
  } else {
    out.writer = {};
  }
  out.payload = tail;
  return {};
}

std::string frame_entry(std::string_view key, const stream_info& info) {
  flatbuffers::FlatBufferBuilder fbb{128 + info.metadata.size()};
  auto st = fbb.CreateString(info.status);
  auto md = fbb.CreateVector(
    reinterpret_cast<const std::uint8_t*>(info.metadata.data()),
    info.metadata.size());
  fb::stream_entryBuilder b{fbb};
  b.add_kind(static_cast<std::uint8_t>(info.kind));
  b.add_status(st);
  b.add_created_ns(info.created);
  b.add_updated_ns(info.updated);
  b.add_first_seq(info.first_seq);
  b.add_last_seq(info.last_seq);
  b.add_snapshot_seq(info.snapshot_seq);
  b.add_metadata(md);
  fbb.Finish(b.Finish());
  return frame(key, fbb, {});
}

status unframe_entry(std::string_view key, std::string_view value,
                     stream_info& out) {
  std::string_view env, tail;
  if (auto st = check_frame(key, value, env, tail); !st)
    return st;
  aligned_copy copy{env};
  flatbuffers::Verifier v{copy.data, env.size()};
  if (!v.VerifyBuffer<fb::stream_entry>(nullptr))
    return {errc::corruption, "directory entry fails its schema"};
  auto e = flatbuffers::GetRoot<fb::stream_entry>(copy.data);
  out.id = std::string{key};
  out.kind = static_cast<stream_kind>(e->kind());
  out.status = e->status() ? e->status()->str() : std::string{};
  out.created = e->created_ns();
  out.updated = e->updated_ns();
  out.first_seq = e->first_seq();
  out.last_seq = e->last_seq();
  out.snapshot_seq = e->snapshot_seq();
  if (auto md = e->metadata())
    out.metadata.assign(reinterpret_cast<const char*>(md->data()), md->size());
  else
    out.metadata.clear();
  return {};
}

std::string frame_small(std::string_view key, std::string_view value) {
  std::string out{value};
  out.resize(value.size() + 4);
  put_le32(out.data() + value.size(), checksum(key, value));
  return out;
}

status unframe_small(std::string_view key, std::string_view framed,
                     std::string_view& value) {
  if (framed.size() < 4)
    return {errc::corruption, "value shorter than its checksum"};
  value = framed.substr(0, framed.size() - 4);
  if (checksum(key, value) != get_le32(framed.data() + value.size()))
    return {errc::corruption, "checksum mismatch"};
  return {};
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 0xF]);
  }
  return out;
}

} // namespace perdure::eventlog::detail
