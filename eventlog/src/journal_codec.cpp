// SPDX-License-Identifier: Apache-2.0
// The journal's encodings: headers and entries (FORMAT.md, "Journal").

#include "journal.hpp"

#include "crc32c.hpp"

#include <cstring>

namespace perdure::eventlog::detail {

namespace {

constexpr char header_magic[8] = {'P', 'R', 'D', 'J', 'R', 'N', 'L', '1'};
constexpr char foreign_magic[8] = {'P', 'R', 'D', 'F', 'C', 'K', 'P', '1'};
constexpr std::size_t max_boot_id = 64;
constexpr std::size_t max_writer_id = 128;
// An entry: length (4) and crc32c (4) of what follows, then generation (8),
// type (1), txnid (8), time (8), batch count (4), (version 2) synced end
// (8), then the batches.
constexpr std::size_t entry_head = journal_entry_head;
constexpr std::uint8_t entry_group = 1;
constexpr std::uint8_t entry_void = 2;
constexpr std::uint8_t entry_checkpoint = 3;
constexpr std::uint8_t entry_seal = 4;

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_str(std::string& out, std::string_view s) {
  put(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

// Reads little-endian fields from a byte range; any read past the end sets
// `bad` and yields zeros.
struct reader {
  const char* p;
  const char* end;
  bool bad = false;

  template <class T>
  T get() {
    T v{};
    if (static_cast<std::size_t>(end - p) < sizeof(T)) {
      bad = true;
      return v;
    }
    std::memcpy(&v, p, sizeof(T));
    p += sizeof(T);
    return v;
  }
  std::string str() {
    auto n = get<std::uint32_t>();
    if (bad || static_cast<std::size_t>(end - p) < n) {
      bad = true;
      return {};
    }
    std::string s{p, n};
    p += n;
    return s;
  }
};

// Root checksums follow the meta images (version 2; absent in older
// version-2 files): known (u8), free root crc, main root crc (u32 each).
void put_roots(std::string& out, const root_sums& roots) {
  put(out, static_cast<std::uint8_t>(roots.known ? 1 : 0));
  put(out, roots.crc[0]);
  put(out, roots.crc[1]);
}

void get_roots(reader& r, root_sums& roots) {
  if (r.end - r.p < 9)
    return;
  roots.known = r.get<std::uint8_t>() != 0;
  roots.crc[0] = r.get<std::uint32_t>();
  roots.crc[1] = r.get<std::uint32_t>();
}

} // namespace

std::string encode_header(const journal_header& h, bool foreign) {
  const char (&magic)[8] = foreign ? foreign_magic : header_magic;
  std::string body;
  put(body, journal_version);
  put(body, h.generation);
  put(body, h.checkpoint_txnid);
  put(body, h.page_size);
  put(body, static_cast<std::uint8_t>(h.clean ? 1 : 0));
  put_str(body, h.boot_id.substr(0, max_boot_id));
  put_str(body, h.writer_id.substr(0, max_writer_id));
  for (auto& m : h.meta) {
    auto img = m;
    img.resize(meta_image_size, '\0');
    body += img;
  }
  put_roots(body, h.roots);
  std::string out{magic, sizeof(magic)};
  put(out, crc32c(0, body.data(), body.size()));
  put(out, static_cast<std::uint32_t>(body.size()));
  out += body;
  out.resize(journal_header_size, '\0');
  return out;
}

bool decode_header(std::string_view block, journal_header& h, bool foreign) {
  const char* magic = foreign ? foreign_magic : header_magic;
  if (block.size() < 16 || std::memcmp(block.data(), magic, 8) != 0)
    return false;
  std::uint32_t crc = 0, len = 0;
  std::memcpy(&crc, block.data() + 8, 4);
  std::memcpy(&len, block.data() + 12, 4);
  if (len > block.size() - 16)
    return false;
  auto body = block.substr(16, len);
  if (crc32c(0, body.data(), body.size()) != crc)
    return false;
  reader r{body.data(), body.data() + body.size()};
  h.version = r.get<std::uint32_t>();
  if (h.version != 1 && h.version != 2)
    return false;
  h.generation = r.get<std::uint64_t>();
  h.checkpoint_txnid = r.get<std::uint64_t>();
  h.page_size = r.get<std::uint32_t>();
  h.clean = r.get<std::uint8_t>() != 0;
  h.boot_id = r.str();
  h.writer_id = r.str();
  for (auto& m : h.meta) {
    if (static_cast<std::size_t>(r.end - r.p) < meta_image_size)
      return false;
    m.assign(r.p, meta_image_size);
    r.p += meta_image_size;
  }
  get_roots(r, h.roots);
  return !r.bad;
}

bool decode_entry(std::string_view bytes, std::uint64_t generation,
                  std::uint32_t version, journal_entry& e,
                  std::uint64_t* found_generation) {
  reader r{bytes.data(), bytes.data() + bytes.size()};
  auto gen = r.get<std::uint64_t>();
  if (found_generation)
    *found_generation = gen;
  if (gen != generation)
    return false;
  auto type = r.get<std::uint8_t>();
  e.txnid = r.get<std::uint64_t>();
  e.now = r.get<time_ns>();
  auto n = r.get<std::uint32_t>();
  if (version >= 2)
    e.synced_end = r.get<std::uint64_t>();
  if (r.bad
      || (type != entry_group && type != entry_void
          && type != entry_checkpoint
          && (version < 2 || type != entry_seal)))
    return false;
  e.void_txn = type == entry_void;
  e.checkpoint = type == entry_checkpoint;
  e.seal = type == entry_seal;
  if (e.seal)
    return n == 0 && r.p == r.end;
  if (e.checkpoint) {
    for (auto& m : e.meta) {
      if (static_cast<std::size_t>(r.end - r.p) < meta_image_size)
        return false;
      m.assign(r.p, meta_image_size);
      r.p += meta_image_size;
    }
    get_roots(r, e.roots);
    return n == 0 && !r.bad && r.p == r.end;
  }
  for (std::uint32_t i = 0; i < n && !r.bad; ++i) {
    auto nops = r.get<std::uint32_t>();
    std::vector<write_batch::op> ops;
    for (std::uint32_t j = 0; j < nops && !r.bad; ++j) {
      write_batch::op op;
      op.what = static_cast<write_batch::op::type>(r.get<std::uint8_t>());
      op.number = r.get<std::uint64_t>();
      op.stream = r.str();
      op.data = r.str();
      if (op.what > write_batch::op::type::note)
        return false;
      ops.push_back(std::move(op));
    }
    e.batches.push_back(write_batch::from_ops(std::move(ops)));
  }
  return !r.bad && r.p == r.end;
}

namespace {

void finish_entry(std::string& out, std::size_t start) {
  auto len = static_cast<std::uint32_t>(out.size() - start - entry_head);
  auto crc = crc32c(0, out.data() + start + entry_head, len);
  std::memcpy(out.data() + start, &len, 4);
  std::memcpy(out.data() + start + 4, &crc, 4);
}

} // namespace

std::uint64_t meta_txnid(std::string_view image) {
  std::uint32_t magic = 0;
  if (image.size() < meta_txnid_offset + 8)
    return 0;
  std::memcpy(&magic, image.data() + 16, 4);
  if (magic != lmdb_meta_magic)
    return 0;
  std::uint64_t txnid = 0;
  std::memcpy(&txnid, image.data() + meta_txnid_offset, 8);
  return txnid;
}


void encode_entry(std::string& out, std::uint64_t generation,
                  std::uint64_t txnid, time_ns now,
                  const std::vector<const write_batch*>& batches,
                  std::uint64_t synced_end) {
  auto start = out.size();
  out.append(entry_head, '\0');
  put(out, generation);
  put(out, entry_group);
  put(out, txnid);
  put(out, now);
  put(out, static_cast<std::uint32_t>(batches.size()));
  put(out, synced_end);
  for (auto* b : batches) {
    put(out, static_cast<std::uint32_t>(b->ops().size()));
    for (auto& op : b->ops()) {
      put(out, static_cast<std::uint8_t>(op.what));
      put(out, op.number);
      put_str(out, op.stream);
      put_str(out, op.data);
    }
  }
  finish_entry(out, start);
}

std::size_t entry_fixed_size() noexcept {
  // head; generation, type, txnid, now, batch count, synced_end
  return entry_head + 8 + 1 + 8 + 8 + 4 + 8;
}

std::size_t entry_batch_size(const write_batch& b) noexcept {
  std::size_t n = 4; // op count
  for (auto& op : b.ops())
    n += 1 + 8 + 4 + op.stream.size() + 4 + op.data.size();
  return n;
}

namespace {

// An entry without batches (a void mark or a checkpoint), `tail` after it.
std::string encode_mark(std::uint64_t generation, std::uint8_t type,
                        std::uint64_t txnid, std::uint64_t synced_end,
                        std::string_view tail = {}) {
  std::string out(entry_head, '\0');
  put(out, generation);
  put(out, type);
  put(out, txnid);
  put(out, time_ns{0});
  put(out, std::uint32_t{0});
  put(out, synced_end);
  out += tail;
  finish_entry(out, 0);
  return out;
}

} // namespace

std::string encode_checkpoint(std::uint64_t generation, std::uint64_t txnid,
                              const std::string (&meta)[2],
                              std::uint64_t synced_end,
                              const root_sums& roots) {
  std::string images;
  for (auto& m : meta) {
    auto img = m;
    img.resize(meta_image_size, '\0');
    images += img;
  }
  put_roots(images, roots);
  return encode_mark(generation, entry_checkpoint, txnid, synced_end, images);
}

std::string encode_void(std::uint64_t generation, std::uint64_t txnid,
                        std::uint64_t synced_end) {
  return encode_mark(generation, entry_void, txnid, synced_end);
}

std::string encode_seal(std::uint64_t generation, std::uint64_t next_txnid,
                        std::uint64_t synced_end) {
  return encode_mark(generation, entry_seal, next_txnid, synced_end);
}

} // namespace perdure::eventlog::detail
