// SPDX-License-Identifier: Apache-2.0
#pragma once

// The redo journal in front of LMDB (sync_policy::journal; FORMAT.md,
// "Journal"). Private to the eventlog module.
//
// The owner of a storage (the exclusive writer) commits LMDB with MDB_NOSYNC
// and writes every transaction's batches to the journal before committing
// it; one fdatasync of the journal makes a whole group durable. A checkpoint
// syncs LMDB, saves the images of its two meta pages in a new journal
// generation and pins that snapshot with a read transaction, so that LMDB
// cannot reuse its pages before the next checkpoint. After a reboot, recovery
// writes the checkpoint's meta pages back into data.mdb (its pages are
// intact) and replays the journal's transactions on top.

#include "perdure/eventlog/status.hpp"
#include "perdure/eventlog/write_batch.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::eventlog::detail {

/// Bytes of a journal file's header block; entries follow it.
inline constexpr std::size_t journal_header_size = 4096;
/// Bytes kept of each LMDB meta page (its header and MDB_meta fit in 160).
inline constexpr std::size_t meta_image_size = 256;

/// Where the txnid sits in an LMDB 0.9 meta page (64-bit build): 16 bytes
/// of page header, then MDB_meta whose mm_txnid is at byte 128. open()
/// checks it against LMDB before trusting it.
inline constexpr std::size_t meta_txnid_offset = 16 + 128;
inline constexpr std::uint32_t lmdb_meta_magic = 0xBEEFC0DE;
/// Bytes of an entry's length and crc, before its body.
inline constexpr std::size_t journal_entry_head = 8;
/// The header version this build writes (it reads 1 too; FORMAT.md).
inline constexpr std::uint32_t journal_version = 2;

/// The txnid an LMDB meta page image names; 0 when it is not a meta page.
std::uint64_t meta_txnid(std::string_view image);

/// Checksums of the root pages (free list and main database) of the state
/// a checkpoint describes, read when it was taken: recovery checks that
/// data.mdb still holds them (its pages are the checkpoint's).
struct root_sums {
  bool known = false;
  std::uint32_t crc[2] = {0, 0}; ///< crc32c of the free and main roots
};

/// Reads the root pages named by meta page `image` from the data file `fd`;
/// `known` is false when they cannot be read.
root_sums read_root_sums(int fd, std::uint32_t page_size,
                         std::string_view image);

struct journal_header {
  std::uint32_t version = journal_version;
  std::uint64_t generation = 0;
  std::uint64_t checkpoint_txnid = 0; ///< LMDB state the meta images describe
  std::uint32_t page_size = 0;
  bool clean = false;                 ///< written by a clean close
  std::string boot_id;                ///< the boot that wrote this generation
  std::string writer_id;              ///< options.writer_id of the owner
  std::string meta[2];                ///< meta pages 0 and 1, meta_image_size each
  root_sums roots;                    ///< of the checkpoint's state (v2)
};

/// One journaled LMDB transaction, the mark that one did not commit, or a
/// checkpoint taken without switching files (LMDB synced up to `txnid`).
struct journal_entry {
  bool void_txn = false;
  bool checkpoint = false;
  bool seal = false;            ///< v2: the generation ends; txnid = next's base
  std::uint64_t txnid = 0;
  std::uint64_t synced_end = 0; ///< v2: bytes of the file known synced when written
  std::uint64_t offset = 0;     ///< where the entry starts in its file
  time_ns now = 0;
  std::vector<write_batch> batches;
  std::string meta[2]; // checkpoint: the meta page images
  root_sums roots;     // checkpoint: its root pages' checksums (v2)
};

/// This boot's id (/proc/sys/kernel/random/boot_id). Tests may set
/// PERDURE_BOOT_ID to pretend a reboot. Empty when unknown.
std::string current_boot_id();

/// Appends the encoding of one group entry to `out` (version 2);
/// `synced_end` is journal::synced_end() at the time.
void encode_entry(std::string& out, std::uint64_t generation,
                  std::uint64_t txnid, time_ns now,
                  const std::vector<const write_batch*>& batches,
                  std::uint64_t synced_end);
/// The bytes encode_entry writes for a group, whatever its batches.
std::size_t entry_fixed_size() noexcept;
/// The bytes encode_entry writes for batch `b`.
std::size_t entry_batch_size(const write_batch& b) noexcept;
/// The encoding of a void mark for `txnid`.
std::string encode_void(std::uint64_t generation, std::uint64_t txnid,
                        std::uint64_t synced_end);
/// The encoding of a checkpoint entry: LMDB is durable up to `txnid`.
std::string encode_checkpoint(std::uint64_t generation, std::uint64_t txnid,
                              const std::string (&meta)[2],
                              std::uint64_t synced_end,
                              const root_sums& roots = {});

/// The encoding of a seal: `generation` ends at this entry; the next one
/// starts from checkpoint `next_txnid`.
std::string encode_seal(std::uint64_t generation, std::uint64_t next_txnid,
                        std::uint64_t synced_end);

/// The header block (journal_header_size bytes) of `h`, version 2.
std::string encode_header(const journal_header& h, bool foreign = false);
/// Decodes a header block (`magic` "PRDJRNL1" or the foreign one); false
/// when it is not a valid header of a known version.
bool decode_header(std::string_view block, journal_header& h,
                   bool foreign = false);
/// Decodes an entry's body (after length and crc) written in a header of
/// `version` and `generation`; false when it is malformed or of another
/// generation (`e.generation` then tells which, when readable).
bool decode_entry(std::string_view body, std::uint64_t generation,
                  std::uint32_t version, journal_entry& e,
                  std::uint64_t* found_generation = nullptr);

/// The two journal files of a storage directory.
class journal {
 public:
  journal() = default;
  ~journal();

  /// Closes the journal's files (the log gave its storage up).
  void close_files() noexcept;
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Opens (creating, unless `create` is false: then read-only)
  /// journal-0 and journal-1 in `dir` and reads their headers. `capacity`
  /// bounds each file. `dfd`, when not -1, is `dir` opened by
  /// prepare_storage_dir: the files are opened relative to it.
  status open(const std::filesystem::path& dir, std::size_t capacity,
              bool create = true, int dfd = -1);

  /// Whether either file holds a valid header.
  bool has_header() const noexcept {
    return cur_ >= 0;
  }
  /// The newest valid header (has_header() must hold).
  const journal_header& header() const noexcept {
    return hdr_;
  }

  /// Before the first start_generation() after open(): the current
  /// generation's entries end at byte `end` (recovery's plan found it), so
  /// that its seal goes there.
  void resume_at(std::uint64_t end) noexcept {
    offset_ = end;
  }

  /// The data file whose root pages checkpoints record (root_sums).
  void data_file(int fd, std::uint32_t page_size) noexcept {
    data_fd_ = fd;
    page_size_ = page_size;
  }

  /// A checkpoint entry of this generation for `txnid` (pinned by the
  /// caller), with its root pages' checksums.
  std::string checkpoint_entry(std::uint64_t txnid,
                               const std::string (&meta)[2]) const;

  /// Writes `h` (its generation set to the next one) into the other file,
  /// with zeros after it, and syncs it: from now on entries go after it.
  /// Then seals the previous generation (a synced seal entry naming the
  /// new one), so that recovery can tell that the new one existed.
  status start_generation(journal_header h);

  /// Writes `bytes` (one or more encoded entries) after the last entry,
  /// without syncing, into a region zeroed and synced beforehand (with
  /// room for the zero head that ends the entries and for the seal).
  /// `errc::full` when they do not fit in this file.
  status append(std::string_view bytes);

  /// Whether `n` bytes fit after the last entry of the current file (when
  /// not, append fails `full` and a checkpoint starts the other file).
  bool fits(std::size_t n) const noexcept {
    return offset_.load(std::memory_order_relaxed) + n + reserve <= capacity_;
  }

  /// Whether `n` bytes could ever fit in one file.
  bool could_fit(std::size_t n) const noexcept {
    return journal_header_size + n + reserve <= capacity_;
  }

  /// fdatasync of the file entries currently go to; afterwards
  /// synced_end() covers every entry appended before the call.
  status sync();

  /// The end of the entries the last completed sync covered.
  std::uint64_t synced_end() const noexcept {
    return synced_end_.load(std::memory_order_acquire);
  }

  std::uint64_t generation() const noexcept {
    return hdr_.generation;
  }
  int fd() const noexcept {
    return cur_ >= 0 ? fds_[cur_] : -1;
  }

 private:
  status zero_ahead(int which, std::uint64_t upto, std::uint64_t& zeroed,
                    bool sync);
  status seal(int which, std::uint64_t next_txnid);

  // A seal entry and the zero head after it.
  static constexpr std::size_t reserve = 128;

  std::filesystem::path dir_;
  std::filesystem::path paths_[2]; // journal-0, journal-1
  std::size_t capacity_ = 0;
  int fds_[2] = {-1, -1};
  std::uint64_t size_[2] = {0, 0}; // bytes written (zero-filled) so far
  int cur_ = -1;
  journal_header hdr_;
  std::atomic<std::uint64_t> offset_{journal_header_size};
  std::uint64_t zeroed_ = 0; // this generation's entries may go below it
  std::atomic<std::uint64_t> synced_end_{journal_header_size};
  int data_fd_ = -1;
  std::uint32_t page_size_ = 0;
};

// -- the other writers' checkpoint --------------------------------------------

/// A writer that is not the owner (a tool beside a running engine) commits
/// with LMDB's full sync and then records its state here, so that recovery
/// does not roll it back. Kept only when newer than the stored one. `fd`
/// is journal-foreign in `dir`, from open_foreign_journal.
status publish_foreign_checkpoint(int fd, const std::filesystem::path& dir,
                                  std::uint64_t txnid, std::uint32_t page_size,
                                  const std::string (&meta)[2]);

/// Opens journal-foreign in `dir` (open as `dfd`) for reading and writing
/// (created with `mode` when missing, no symbolic link followed). Such a writer opens it
/// before it commits anything: one that could not record its commits is
/// refused (`permission` for a file it may not write) rather than write.
result<int> open_foreign_journal(const std::filesystem::path& dir, int dfd,
                                 unsigned mode);

/// The foreign checkpoint, if one is stored and intact.
bool read_foreign_checkpoint(const std::filesystem::path& dir,
                             journal_header& out);

/// Reads LMDB's two meta pages from the data file `fd`.
status read_meta_pages(int fd, std::uint32_t page_size, std::string (&meta)[2]);

/// Writes meta page images back into the data file and syncs it.
status write_meta_pages(int fd, std::uint32_t page_size,
                        const std::string (&meta)[2]);

} // namespace perdure::eventlog::detail
