// The redo journal's files: headers, entries, the foreign checkpoint. See
// journal.hpp for how the log uses them and FORMAT.md for the layout.

#include "journal.hpp"

#include "crc32c.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace perdure::eventlog::detail {

namespace {

constexpr char header_magic[8] = {'P', 'R', 'D', 'J', 'R', 'N', 'L', '1'};
constexpr char foreign_magic[8] = {'P', 'R', 'D', 'F', 'C', 'K', 'P', '1'};
constexpr std::uint32_t header_version = 1;
constexpr std::size_t max_boot_id = 64;
constexpr std::size_t max_writer_id = 128;
constexpr std::size_t zero_chunk = std::size_t{1} << 20;
// An entry: length (4) and crc32c (4) of what follows, then generation (8),
// type (1), txnid (8), time (8), batch count (4), then the batches.
constexpr std::size_t entry_head = 8;
constexpr std::uint8_t entry_group = 1;
constexpr std::uint8_t entry_void = 2;
constexpr std::uint8_t entry_checkpoint = 3;

status os_error(std::string_view what, const std::filesystem::path& path) {
  return {errc::io,
          fmt::format("{}({}): {}", what, path.string(), std::strerror(errno))};
}

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

std::string encode_header(const journal_header& h,
                          const char (&magic)[8] = header_magic) {
  std::string body;
  put(body, header_version);
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
  std::string out{magic, sizeof(magic)};
  put(out, crc32c(0, body.data(), body.size()));
  put(out, static_cast<std::uint32_t>(body.size()));
  out += body;
  out.resize(journal_header_size, '\0');
  return out;
}

bool decode_header(std::string_view block, journal_header& h,
                   const char (&magic)[8] = header_magic) {
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
  if (r.get<std::uint32_t>() != header_version)
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
  return !r.bad;
}

status pwrite_all(int fd, const char* data, std::size_t n, std::uint64_t at,
                  const std::filesystem::path& path) {
  while (n > 0) {
    auto w = ::pwrite(fd, data, n, static_cast<off_t>(at));
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return os_error("pwrite", path);
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    at += static_cast<std::uint64_t>(w);
  }
  return {};
}

std::string pread_all(int fd, std::size_t n, std::uint64_t at) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    auto r = ::pread(fd, out.data() + got, n - got, static_cast<off_t>(at + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

bool decode_entry(std::string_view bytes, std::uint64_t generation,
                  journal_entry& e) {
  reader r{bytes.data(), bytes.data() + bytes.size()};
  if (r.get<std::uint64_t>() != generation)
    return false;
  auto type = r.get<std::uint8_t>();
  e.txnid = r.get<std::uint64_t>();
  e.now = r.get<time_ns>();
  auto n = r.get<std::uint32_t>();
  if (r.bad
      || (type != entry_group && type != entry_void
          && type != entry_checkpoint))
    return false;
  e.void_txn = type == entry_void;
  e.checkpoint = type == entry_checkpoint;
  if (e.checkpoint) {
    for (auto& m : e.meta) {
      if (static_cast<std::size_t>(r.end - r.p) < meta_image_size)
        return false;
      m.assign(r.p, meta_image_size);
      r.p += meta_image_size;
    }
    return n == 0 && r.p == r.end;
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
      if (op.what > write_batch::op::type::put_blob)
        return false;
      ops.push_back(std::move(op));
    }
    e.batches.push_back(write_batch::from_ops(std::move(ops)));
  }
  return !r.bad && r.p == r.end;
}

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

std::string current_boot_id() {
  if (const char* fake = std::getenv("PERDURE_BOOT_ID"); fake && *fake)
    return fake;
  std::ifstream in{"/proc/sys/kernel/random/boot_id"};
  std::string id;
  std::getline(in, id);
  return id;
}

void encode_entry(std::string& out, std::uint64_t generation,
                  std::uint64_t txnid, time_ns now,
                  const std::vector<const write_batch*>& batches) {
  auto start = out.size();
  out.append(entry_head, '\0');
  put(out, generation);
  put(out, entry_group);
  put(out, txnid);
  put(out, now);
  put(out, static_cast<std::uint32_t>(batches.size()));
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

namespace {

// An entry without batches (a void mark or a checkpoint), `tail` after it.
std::string encode_mark(std::uint64_t generation, std::uint8_t type,
                        std::uint64_t txnid, std::string_view tail = {}) {
  std::string out(entry_head, '\0');
  put(out, generation);
  put(out, type);
  put(out, txnid);
  put(out, time_ns{0});
  put(out, std::uint32_t{0});
  out += tail;
  finish_entry(out, 0);
  return out;
}

} // namespace

std::string encode_checkpoint(std::uint64_t generation, std::uint64_t txnid,
                              const std::string (&meta)[2]) {
  std::string images;
  for (auto& m : meta) {
    auto img = m;
    img.resize(meta_image_size, '\0');
    images += img;
  }
  return encode_mark(generation, entry_checkpoint, txnid, images);
}

std::string encode_void(std::uint64_t generation, std::uint64_t txnid) {
  return encode_mark(generation, entry_void, txnid);
}

// -- journal ------------------------------------------------------------------

journal::~journal() {
  for (int fd : fds_)
    if (fd >= 0)
      ::close(fd);
}

status journal::open(const std::filesystem::path& dir, std::size_t capacity,
                     bool create) {
  dir_ = dir;
  capacity_ = capacity;
  std::uint64_t best = 0;
  for (int i = 0; i < 2; ++i) {
    paths_[i] = dir / fmt::format("journal-{}", i);
    const auto& path = paths_[i];
    fds_[i] = ::open(path.c_str(),
                     create ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC,
                     0644);
    if (fds_[i] < 0)
      return os_error("open", path);
    auto end = ::lseek(fds_[i], 0, SEEK_END);
    size_[i] = end > 0 ? static_cast<std::uint64_t>(end) : 0;
    journal_header h;
    if (decode_header(pread_all(fds_[i], journal_header_size, 0), h)
        && (cur_ < 0 || h.generation > best)) {
      best = h.generation;
      cur_ = i;
      hdr_ = std::move(h);
    }
  }
  offset_ = journal_header_size;
  return {};
}

std::vector<journal_entry> journal::read_entries() const {
  std::vector<journal_entry> out;
  if (cur_ < 0)
    return out;
  auto all = pread_all(fds_[cur_], size_[cur_], 0);
  std::size_t at = journal_header_size;
  while (at + entry_head <= all.size()) {
    std::uint32_t len = 0, crc = 0;
    std::memcpy(&len, all.data() + at, 4);
    std::memcpy(&crc, all.data() + at + 4, 4);
    if (len == 0 || len > all.size() - at - entry_head)
      break;
    auto body = std::string_view{all}.substr(at + entry_head, len);
    if (crc32c(0, body.data(), body.size()) != crc)
      break;
    journal_entry e;
    if (!decode_entry(body, hdr_.generation, e))
      break;
    out.push_back(std::move(e));
    at += entry_head + len;
  }
  return out;
}

status journal::extend(int which, std::uint64_t upto) {
  const auto& path = paths_[which];
  static const std::string zeros(zero_chunk, '\0');
  while (size_[which] < upto) {
    auto n = std::min<std::uint64_t>(zero_chunk, capacity_ - size_[which]);
    if (n == 0)
      break;
    if (auto st = pwrite_all(fds_[which], zeros.data(), n, size_[which], path);
        !st)
      return st;
    size_[which] += n;
  }
  // Overwriting these blocks later changes no file metadata, so the
  // per-group fdatasync flushes data only.
  if (::fdatasync(fds_[which]) != 0)
    return os_error("fdatasync", path);
  return {};
}

status journal::start_generation(journal_header h) {
  int next = cur_ < 0 ? 0 : 1 - cur_;
  h.generation = (cur_ < 0 ? 0 : hdr_.generation) + 1;
  const auto& path = paths_[next];
  auto block = encode_header(h);
  if (size_[next] < journal_header_size)
    size_[next] = 0;
  if (auto st = pwrite_all(fds_[next], block.data(), block.size(), 0, path); !st)
    return st;
  size_[next] = std::max<std::uint64_t>(size_[next], journal_header_size);
  if (::fdatasync(fds_[next]) != 0)
    return os_error("fdatasync", path);
  cur_ = next;
  hdr_ = std::move(h);
  offset_ = journal_header_size;
  return {};
}

status journal::append(std::string_view bytes) {
  if (offset_ + bytes.size() > capacity_)
    return {errc::full, "journal file full"};
  if (offset_ + bytes.size() > size_[cur_])
    if (auto st = extend(cur_, offset_ + bytes.size()); !st)
      return st;
  const auto& path = paths_[cur_];
  if (auto st = pwrite_all(fds_[cur_], bytes.data(), bytes.size(), offset_, path);
      !st)
    return st;
  offset_ += bytes.size();
  return {};
}

status journal::sync() const {
  if (::fdatasync(fds_[cur_]) != 0)
    return os_error("fdatasync", paths_[cur_]);
  return {};
}

// -- LMDB meta pages ----------------------------------------------------------

status read_meta_pages(int fd, std::uint32_t page_size, std::string (&meta)[2]) {
  for (int i = 0; i < 2; ++i) {
    meta[i] = pread_all(fd, meta_image_size,
                        static_cast<std::uint64_t>(i) * page_size);
    if (meta[i].size() != meta_image_size)
      return {errc::io, fmt::format("cannot read LMDB meta page {}", i)};
  }
  return {};
}

status write_meta_pages(int fd, std::uint32_t page_size,
                        const std::string (&meta)[2]) {
  for (int i = 0; i < 2; ++i)
    if (auto st = pwrite_all(fd, meta[i].data(), meta[i].size(),
                             static_cast<std::uint64_t>(i) * page_size,
                             "data.mdb");
        !st)
      return st;
  if (::fdatasync(fd) != 0)
    return {errc::io, fmt::format("fdatasync(data.mdb): {}", std::strerror(errno))};
  return {};
}

// -- foreign checkpoint -------------------------------------------------------

bool read_foreign_checkpoint(const std::filesystem::path& dir,
                             journal_header& out) {
  auto path = dir / "journal-foreign";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  auto block = pread_all(fd, journal_header_size, 0);
  ::close(fd);
  return decode_header(block, out, foreign_magic);
}

status publish_foreign_checkpoint(const std::filesystem::path& dir,
                                  std::uint64_t txnid, std::uint32_t page_size,
                                  const std::string (&meta)[2]) {
  auto path = dir / "journal-foreign";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return os_error("open", path);
  struct closer {
    int fd;
    ~closer() {
      ::close(fd);
    }
  } c{fd};
  if (::flock(fd, LOCK_EX) != 0)
    return os_error("flock", path);
  journal_header old;
  if (decode_header(pread_all(fd, journal_header_size, 0), old, foreign_magic)
      && old.checkpoint_txnid >= txnid)
    return {};
  journal_header h;
  h.checkpoint_txnid = txnid;
  h.page_size = page_size;
  h.meta[0] = meta[0];
  h.meta[1] = meta[1];
  auto block = encode_header(h, foreign_magic);
  if (auto st = pwrite_all(fd, block.data(), block.size(), 0, path); !st)
    return st;
  if (::fdatasync(fd) != 0)
    return os_error("fdatasync", path);
  return {};
}

} // namespace perdure::eventlog::detail
