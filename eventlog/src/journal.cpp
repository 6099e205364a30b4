// SPDX-License-Identifier: Apache-2.0
// The redo journal's files: headers, entries, the foreign checkpoint. See
// journal.hpp for how the log uses them and FORMAT.md for the layout.

#include "journal.hpp"

#include "crc32c.hpp"
#include "os_error.hpp"
#include "storage_dir.hpp"

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

constexpr std::size_t zero_chunk = std::size_t{256} << 10;

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

} // namespace

std::string current_boot_id() {
  if (const char* fake = std::getenv("PERDURE_BOOT_ID"); fake && *fake)
    return fake;
  std::ifstream in{"/proc/sys/kernel/random/boot_id"};
  std::string id;
  std::getline(in, id);
  return id;
}

// -- journal ------------------------------------------------------------------

journal::~journal() {
  close_files();
}

void journal::close_files() noexcept {
  for (int& fd : fds_) {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
}

status journal::open(const std::filesystem::path& dir, std::size_t capacity,
                     bool create, int dfd) {
  dir_ = dir;
  capacity_ = capacity;
  std::uint64_t best = 0;
  for (int i = 0; i < 2; ++i) {
    paths_[i] = dir / fmt::format("journal-{}", i);
    const auto& path = paths_[i];
    const auto name = path.filename();
    fds_[i] = ::openat(dfd >= 0 ? dfd : AT_FDCWD,
                       dfd >= 0 ? name.c_str() : path.c_str(),
                       create ? O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW
                              : O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
                       0600);
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

// Zeros [zeroed, upto) (at least a chunk, at most the capacity) of file
// `which`. Entries are written only into zeroed regions whose zeros are
// durable, so that after a power loss the bytes after the last durable
// entry are zeros or parts of later entries, never stale ones (FORMAT.md).
// Overwriting these blocks later changes no file metadata, so the
// per-group fdatasync flushes data only.
status journal::zero_ahead(int which, std::uint64_t upto,
                           std::uint64_t& zeroed, bool sync) {
  const auto& path = paths_[which];
  static const std::string zeros(zero_chunk, '\0');
  auto target = std::min<std::uint64_t>(
    capacity_, std::max<std::uint64_t>(upto, zeroed + zero_chunk));
  while (zeroed < target) {
    auto n = std::min<std::uint64_t>(zero_chunk, target - zeroed);
    if (auto st = pwrite_all(fds_[which], zeros.data(), n, zeroed, path); !st)
      return st;
    zeroed += n;
  }
  size_[which] = std::max(size_[which], zeroed);
  if (sync && ::fdatasync(fds_[which]) != 0)
    return os_error("fdatasync", path);
  return {};
}

std::string journal::checkpoint_entry(std::uint64_t txnid,
                                      const std::string (&meta)[2]) const {
  auto roots = data_fd_ >= 0
                 ? read_root_sums(data_fd_, page_size_, meta[txnid & 1])
                 : root_sums{};
  return encode_checkpoint(hdr_.generation, txnid, meta, synced_end(), roots);
}

status journal::start_generation(journal_header h) {
  const int prev = cur_;
  if (data_fd_ >= 0)
    h.roots = read_root_sums(data_fd_, page_size_,
                             h.meta[h.checkpoint_txnid & 1]);
  const int next = cur_ < 0 ? 0 : 1 - cur_;
  h.generation = (cur_ < 0 ? 0 : hdr_.generation) + 1;
  h.version = journal_version;
  const auto& path = paths_[next];
  std::uint64_t zeroed = journal_header_size;
  if (auto st = zero_ahead(next, journal_header_size + reserve, zeroed, false);
      !st)
    return st;
  auto block = encode_header(h);
  if (auto st = pwrite_all(fds_[next], block.data(), block.size(), 0, path); !st)
    return st;
  if (::fdatasync(fds_[next]) != 0)
    return os_error("fdatasync", path);
  const bool seal_prev = prev >= 0 && hdr_.version >= 2;
  const auto prev_generation = hdr_.generation;
  const auto prev_end = offset_.load();
  cur_ = next;
  hdr_ = std::move(h);
  offset_ = journal_header_size;
  zeroed_ = zeroed;
  synced_end_ = journal_header_size;
  if (!seal_prev)
    return {};
  // Every entry of the previous generation is synced (checkpoints drain
  // the syncer), so the seal says so.
  auto mark = encode_seal(prev_generation, hdr_.checkpoint_txnid, prev_end);
  if (auto st = pwrite_all(fds_[prev], mark.data(), mark.size(), prev_end,
                           paths_[prev]);
      !st)
    return st;
  if (::fdatasync(fds_[prev]) != 0)
    return os_error("fdatasync", paths_[prev]);
  return {};
}

status journal::append(std::string_view bytes) {
  auto at = offset_.load(std::memory_order_relaxed);
  if (at + bytes.size() + reserve > capacity_)
    return {errc::full, "journal file full"};
  if (at + bytes.size() + reserve > zeroed_)
    if (auto st = zero_ahead(cur_, at + bytes.size() + reserve, zeroed_, true);
        !st)
      return st;
  const auto& path = paths_[cur_];
  if (auto st = pwrite_all(fds_[cur_], bytes.data(), bytes.size(), at, path);
      !st)
    return st;
  offset_.store(at + bytes.size(), std::memory_order_release);
  return {};
}

status journal::sync() {
  auto upto = offset_.load(std::memory_order_acquire);
  if (::fdatasync(fds_[cur_]) != 0)
    return os_error("fdatasync", paths_[cur_]);
  auto seen = synced_end_.load(std::memory_order_relaxed);
  while (seen < upto
         && !synced_end_.compare_exchange_weak(seen, upto,
                                               std::memory_order_release))
    ;
  return {};
}

// -- LMDB meta pages ----------------------------------------------------------

root_sums read_root_sums(int fd, std::uint32_t page_size,
                         std::string_view image) {
  // MDB_meta (64-bit LMDB 0.9) after the 16-byte page header: the free
  // list's MDB_db at 24, the main one at 72; md_root is at 40 in each.
  constexpr std::size_t root_at[2] = {16 + 24 + 40, 16 + 72 + 40};
  root_sums out;
  if (meta_txnid(image) == 0 || page_size == 0)
    return out;
  for (int i = 0; i < 2; ++i) {
    std::uint64_t pgno = 0;
    std::memcpy(&pgno, image.data() + root_at[i], 8);
    if (pgno == ~std::uint64_t{0})
      continue; // an empty database
    auto page = pread_all(fd, page_size, pgno * page_size);
    if (page.size() != page_size)
      return out;
    out.crc[i] = crc32c(0, page.data(), page.size());
  }
  out.known = true;
  return out;
}

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
    return os_error("fdatasync", "data.mdb");
  return {};
}

// -- foreign checkpoint -------------------------------------------------------

bool read_foreign_checkpoint(const std::filesystem::path& dir,
                             journal_header& out) {
  auto path = dir / "journal-foreign";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return false;
  auto block = pread_all(fd, journal_header_size, 0);
  ::close(fd);
  return decode_header(block, out, /*foreign=*/true);
}

result<int> open_foreign_journal(const std::filesystem::path& dir, int dfd,
                                 unsigned mode) {
  int fd = open_storage_file(dfd, "journal-foreign", mode);
  if (fd < 0) {
    auto st = os_error("open", dir / "journal-foreign");
    return unexpected{
      st.code(),
      fmt::format("{}; a writer beside the storage's owner records its "
                  "commits there, so nothing was written",
                  st.message())};
  }
  return fd;
}

status publish_foreign_checkpoint(int fd, const std::filesystem::path& dir,
                                  std::uint64_t txnid, std::uint32_t page_size,
                                  const std::string (&meta)[2]) {
  auto path = dir / "journal-foreign";
  // Held until this function returns: writers beside each other take turns.
  struct unlocker {
    int fd;
    ~unlocker() {
      ::flock(fd, LOCK_UN);
    }
  };
  if (::flock(fd, LOCK_EX) != 0)
    return os_error("flock", path);
  unlocker u{fd};
  journal_header old;
  if (decode_header(pread_all(fd, journal_header_size, 0), old, true)
      && old.checkpoint_txnid >= txnid)
    return {};
  journal_header h;
  h.checkpoint_txnid = txnid;
  h.page_size = page_size;
  h.meta[0] = meta[0];
  h.meta[1] = meta[1];
  auto block = encode_header(h, /*foreign=*/true);
  if (auto st = pwrite_all(fd, block.data(), block.size(), 0, path); !st)
    return st;
  if (::fdatasync(fd) != 0)
    return os_error("fdatasync", path);
  return {};
}

} // namespace perdure::eventlog::detail
