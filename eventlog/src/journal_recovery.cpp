// SPDX-License-Identifier: Apache-2.0
// Recovery planning: reading the journal and data.mdb, proving what a
// replay would produce, or refusing. See journal_recovery.hpp and
// FORMAT.md, "Recovery".

#include "journal_recovery.hpp"

#include "crc32c.hpp"
#include "os_error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <lmdb.h>

#include <cerrno>
#include <cstring>
#include <map>

#include <fmt/format.h>

namespace perdure::eventlog {

std::string_view to_string(recovery_plan::action a) noexcept {
  switch (a) {
    case recovery_plan::action::none:
      return "none";
    case recovery_plan::action::checkpoint:
      return "checkpoint";
    case recovery_plan::action::replay:
      return "replay";
    case recovery_plan::action::refuse:
      return "refuse";
  }
  return "?";
}

namespace detail {

namespace {

constexpr std::size_t sector = 512;
// A zeroed run shorter than this inside a damaged entry is not taken as
// evidence of a torn write (entries hold short runs of zeros themselves).
constexpr std::size_t min_torn_run = 64;
constexpr const char* undo_name = "data.mdb.undo";

status corrupt(const std::filesystem::path& dir, std::string what) {
  return {errc::corruption,
          fmt::format("storage '{}': {}; nothing was written (run `perdure "
                      "recover --dry-run` to see the plan)",
                      dir.string(), what)};
}

// The first `limit` bytes of a file; `exists` is false when it is absent.
struct file_bytes {
  bool exists = false;
  std::string bytes;
};

result<file_bytes> read_file(const std::filesystem::path& path,
                             std::size_t limit = SIZE_MAX) {
  file_bytes out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return out;
    return os_error("open", path);
  }
  out.exists = true;
  char buf[1 << 16];
  while (out.bytes.size() < limit) {
    auto n = ::read(fd, buf, std::min(sizeof(buf), limit - out.bytes.size()));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      auto st = os_error("read", path);
      ::close(fd);
      return st;
    }
    if (n == 0)
      break;
    out.bytes.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

bool all_zero(std::string_view s) {
  for (char c : s)
    if (c != 0)
      return false;
  return true;
}

// Whether a damaged entry at [at, at + n) can be a write cut short by a
// power loss: entries are written only into zeroed regions, and a disk
// keeps or loses whole sectors, so a torn entry has a zeroed sector.
bool looks_torn(std::string_view file, std::uint64_t at, std::uint64_t n) {
  auto end = std::min<std::uint64_t>(at + n, file.size());
  for (auto s = at - at % sector; s < end; s += sector) {
    auto from = std::max(s, at);
    auto to = std::min<std::uint64_t>(s + sector, end);
    if (to - from >= min_torn_run && all_zero(file.substr(from, to - from)))
      return true;
  }
  return false;
}

struct scan_result {
  std::vector<journal_entry> entries;
  std::uint64_t end = journal_header_size;
  std::string end_kind;
  bool sealed = false;
  std::string problem; // empty when the generation reads clean
};

std::uint32_t get_u32(std::string_view s, std::uint64_t at) {
  std::uint32_t v = 0;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}

// Reads the entries of the generation `h` in `file`. Version 2 proves where
// they end (FORMAT.md "Recovery"); version 1 stops at the first bad entry.
scan_result scan(std::string_view file, const journal_header& h,
                 const std::string& name) {
  scan_result r;
  const bool strict = h.version >= 2;
  const auto size = file.size();
  std::uint64_t at = journal_header_size;
  std::uint64_t prev = h.checkpoint_txnid; // the last transaction seen
  bool after_void = false;
  auto fail = [&](std::string what) {
    r.problem = fmt::format("{} {}", name, what);
  };
  for (;;) {
    r.end = at;
    if (at + journal_entry_head > size) {
      r.end_kind = "end of file";
      if (strict)
        fail(fmt::format("ends at byte {} without the zeros that follow the "
                         "last entry: the file was cut short",
                         size));
      return r;
    }
    auto len = get_u32(file, at);
    auto crc = get_u32(file, at + 4);
    if (len == 0 && crc == 0) {
      r.end_kind = "zeros";
      return r;
    }
    if (len > size - at - journal_entry_head) {
      r.end_kind = "entry past the end of the file";
      if (strict)
        fail(fmt::format("has an entry at byte {} of {} bytes, but the file "
                         "ends at byte {}: the file was cut short",
                         at, len, size));
      return r;
    }
    auto body = file.substr(at + journal_entry_head, len);
    if (crc32c(0, body.data(), body.size()) == crc) {
      journal_entry e;
      std::uint64_t gen = 0;
      if (decode_entry(body, h.generation, h.version, e, &gen)) {
        e.offset = at;
        if (strict && e.synced_end > at) {
          fail(fmt::format("entry at byte {} says bytes up to {} were synced "
                           "before it was written",
                           at, e.synced_end));
          return r;
        }
        if (strict && !e.checkpoint && !e.seal) {
          // A void mark follows its transaction's entry; a retry of a
          // voided transaction reuses its txnid.
          bool ok = e.void_txn ? e.txnid == prev
                               : e.txnid == prev + 1
                                   || (after_void && e.txnid == prev);
          if (!ok) {
            fail(fmt::format("entry at byte {} journals transaction {} after "
                             "transaction {}: a gap",
                             at, e.txnid, prev));
            return r;
          }
          prev = e.txnid;
          after_void = e.void_txn;
        }
        at += journal_entry_head + len;
        r.sealed = e.seal;
        r.entries.push_back(std::move(e));
        if (r.sealed) {
          r.end = at;
          r.end_kind = "sealed";
          return r;
        }
        continue;
      }
      if (gen != 0 && gen < h.generation) {
        // A whole entry of an older generation: its zeros were not yet
        // durable when the power failed, and nothing was written after.
        r.end_kind = "older generation";
        return r;
      }
      r.end_kind = "malformed entry";
      if (strict)
        fail(fmt::format("has a malformed entry at byte {} (its checksum "
                         "matches)",
                         at));
      return r;
    }
    r.end_kind = "torn entry";
    if (!strict)
      return r;
    if (!looks_torn(file, at, journal_entry_head + len)) {
      fail(fmt::format("entry at byte {} ({} bytes) fails its checksum and is "
                       "not a torn write: the journal is damaged",
                       at, len));
      return r;
    }
    // A torn entry was never synced, so no later entry may say it was.
    for (auto b = at + journal_entry_head + len;
         b + journal_entry_head <= size;) {
      auto n = get_u32(file, b);
      if (n == 0 || n > size - b - journal_entry_head)
        break;
      auto later = file.substr(b + journal_entry_head, n);
      journal_entry e;
      if (crc32c(0, later.data(), later.size()) != get_u32(file, b + 4)
          || !decode_entry(later, h.generation, h.version, e))
        break;
      if (e.synced_end > at) {
        fail(fmt::format("entry at byte {} fails its checksum, but the entry "
                         "at byte {} says the journal was synced up to byte "
                         "{}: an acknowledged entry is damaged",
                         at, b, e.synced_end));
        return r;
      }
      b += journal_entry_head + n;
    }
    return r;
  }
}

struct journal_file {
  std::string name;
  file_bytes data;
  journal_header header;
  bool valid = false;
};

} // namespace

result<planned> make_plan(const std::filesystem::path& dir,
                          const std::string& boot) {
  using action = recovery_plan::action;
  planned out;
  auto& p = out.plan;
  auto refuse = [&](std::string what) -> result<planned> {
    p.what = action::refuse;
    p.problem = corrupt(dir, what);
    p.reason = std::move(what);
    return out;
  };
  std::error_code ec;
  p.undo_pending = std::filesystem::exists(dir / undo_name, ec);
  journal_file files[2];
  int cur = -1;
  for (int i = 0; i < 2; ++i) {
    auto& f = files[i];
    f.name = fmt::format("journal-{}", i);
    auto r = read_file(dir / f.name, journal_header_size);
    if (!r)
      return r.as_status();
    f.data = std::move(*r);
    f.valid = decode_header(std::string_view{f.data.bytes}.substr(
                              0, journal_header_size),
                            f.header);
    if (f.valid && (cur < 0 || f.header.generation > files[cur].header.generation))
      cur = i;
  }
  if (cur < 0) {
    for (auto& f : files)
      if (!f.data.bytes.empty())
        return refuse(fmt::format("{} is not empty but holds no valid "
                                  "header (at byte 0); the journal is damaged",
                                  f.name));
    p.reason = "no journal has been written";
    return out;
  }
  auto& f = files[cur];
  auto& h = f.header;
  if (auto whole = read_file(dir / f.name); !whole)
    return whole.as_status();
  else
    f.data = std::move(*whole);
  auto data_path = dir / (p.undo_pending ? undo_name : "data.mdb");
  auto data = read_file(data_path, 2 * std::size_t{h.page_size});
  if (!data)
    return data.as_status();
  p.journal_file = f.name;
  p.journal_version = h.version;
  p.generation = h.generation;
  auto sc = scan(f.data.bytes, h, f.name);
  p.entries = sc.entries.size();
  p.journal_end = sc.end;
  p.journal_end_kind = sc.end_kind;
  if (!sc.problem.empty())
    return refuse(sc.problem);
  if (sc.sealed)
    return refuse(fmt::format(
      "{} was sealed at byte {} for generation {}, which {} no longer holds "
      "(its header is damaged or the file was emptied)",
      f.name, sc.entries.back().offset, h.generation + 1,
      files[1 - cur].name));
  // The newest checkpoint: the header's, a checkpoint entry's, or the
  // foreign writers'.
  out.base = h;
  p.checkpoint_source = fmt::format("{} header", f.name);
  for (auto& e : sc.entries) {
    if (e.void_txn || e.checkpoint || e.seal)
      ;
    else
      p.last_txnid = std::max(p.last_txnid, e.txnid);
    if (e.checkpoint && e.txnid > out.base.checkpoint_txnid) {
      out.base.checkpoint_txnid = e.txnid;
      out.base.meta[0] = e.meta[0];
      out.base.meta[1] = e.meta[1];
      out.base.roots = e.roots;
      p.checkpoint_source =
        fmt::format("{} checkpoint entry at byte {}", f.name, e.offset);
    }
  }
  auto foreign = read_file(dir / "journal-foreign", journal_header_size);
  if (!foreign)
    return foreign.as_status();
  if (foreign->exists && !foreign->bytes.empty()) {
    journal_header fh;
    if (!decode_header(std::string_view{foreign->bytes}.substr(
                         0, journal_header_size),
                       fh, /*foreign=*/true))
      return refuse("journal-foreign has no valid checkpoint (at byte 0); a "
                    "tool's commits may be missing from data.mdb's last "
                    "checkpoint");
    if (fh.checkpoint_txnid > out.base.checkpoint_txnid
        && fh.page_size == h.page_size) {
      out.base.checkpoint_txnid = fh.checkpoint_txnid;
      out.base.meta[0] = fh.meta[0];
      out.base.meta[1] = fh.meta[1];
      out.base.roots = fh.roots;
      p.checkpoint_source = "journal-foreign";
    }
  }
  p.checkpoint_txnid = out.base.checkpoint_txnid;
  // data.mdb must be this journal's: present, LMDB's, not older than the
  // checkpoint (whose pages then still hold the checkpoint's state).
  const auto& bytes = data->bytes;
  if (!data->exists || bytes.size() < 2 * std::size_t{h.page_size})
    return refuse(fmt::format(
      "{} is {} beside {} (generation {}, checkpoint of transaction {}); an "
      "empty storage is never started over an existing journal (to start "
      "over, remove the journal files as well)",
      data_path.filename().string(), data->exists ? "truncated" : "missing",
      f.name, h.generation, p.checkpoint_txnid));
  for (int i = 0; i < 2; ++i)
    p.data_txnid = std::max(
      p.data_txnid,
      meta_txnid(std::string_view{bytes}.substr(
        static_cast<std::size_t>(i) * h.page_size, meta_image_size)));
  if (p.data_txnid == 0)
    return refuse(fmt::format("{} has no valid LMDB meta page (bytes 0 and {})",
                              data_path.filename().string(), h.page_size));
  if (p.data_txnid < p.checkpoint_txnid)
    return refuse(fmt::format(
      "{} is at transaction {}, older than the checkpoint of transaction {} "
      "in {}: it is not the data file of this journal (a restored backup?)",
      data_path.filename().string(), p.data_txnid, p.checkpoint_txnid,
      p.checkpoint_source));
  for (auto& e : sc.entries)
    if (!e.void_txn && !e.checkpoint && !e.seal
        && e.txnid > p.checkpoint_txnid)
      ++p.replay;
  // A later entry with the same txnid replaces an earlier one.
  std::map<std::uint64_t, int> seen;
  for (auto& e : sc.entries)
    if (!e.checkpoint && !e.seal && e.txnid > p.checkpoint_txnid
        && seen[e.txnid]++ > 0)
      --p.replay;
  out.entries = std::move(sc.entries);
  if (h.clean) {
    p.what = action::none;
    p.replay = 0;
    p.reason = "the journal was closed cleanly";
    return out;
  }
  if (out.base.roots.known) {
    // The checkpoint's root pages, as they were when it was taken: pages
    // LMDB reused since (or another storage's data.mdb) fail here. (After
    // a clean close LMDB's state is the checkpoint's; damage in it is
    // verify's to find, and the map guard's.)
    int fd = ::open(data_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
      return os_error("open", data_path);
    auto now = read_root_sums(fd, h.page_size,
                              out.base.meta[p.checkpoint_txnid & 1]);
    ::close(fd);
    for (int i = 0; i < 2; ++i)
      if (!now.known || now.crc[i] != out.base.roots.crc[i])
        return refuse(fmt::format(
          "the {} root page of the checkpoint of transaction {} ({}) is no "
          "longer in {}: its pages were overwritten or this is another "
          "storage's data file",
          i == 0 ? "free list's" : "main database's", p.checkpoint_txnid,
          p.checkpoint_source, data_path.filename().string()));
  }
  p.rebooted = h.boot_id.empty() || boot.empty() || h.boot_id != boot;
  if (p.rebooted) {
    p.what = action::replay;
    p.reason = "the journal was left open before a reboot: unsynced LMDB "
               "writes may be lost";
    return out;
  }
  // The same boot: LMDB holds every commit, unless data.mdb was replaced
  // by an older copy. The last entry may be a commit the crash cut off.
  if (p.last_txnid > p.data_txnid + 1) {
    p.what = action::replay;
    p.reason = fmt::format("data.mdb is at transaction {} but the journal "
                           "holds transactions up to {}",
                           p.data_txnid, p.last_txnid);
    return out;
  }
  p.what = action::checkpoint;
  p.replay = 0;
  p.reason = "the journal was left open by a crash in this boot: LMDB is "
             "current";
  return out;
}

} // namespace detail

result<recovery_plan> plan_recovery(const std::filesystem::path& dir) {
  auto r = detail::make_plan(dir, detail::current_boot_id());
  if (!r)
    return r.as_status();
  return std::move(r->plan);
}

} // namespace perdure::eventlog
