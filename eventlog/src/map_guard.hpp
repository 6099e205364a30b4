// SPDX-License-Identifier: Apache-2.0
#pragma once

// LMDB 0.9 follows page numbers without checking them against the file: a
// damaged page number makes it read past the end of data.mdb (SIGBUS) or
// outside its map (SIGSEGV). The log calls LMDB through these wrappers: a
// fault inside one becomes MDB_PAGE_NOTFOUND (errc::corruption) instead of
// a crash. Only C frames (LMDB's) lie between the wrapper and the fault, so
// jumping out skips no destructor; the caller then aborts the transaction.
// The bytes of a returned key and value are touched inside the guard too.

#include <lmdb.h>

#include <csetjmp>

namespace perdure::eventlog::detail {

/// The innermost armed guard of this thread (null when none).
extern thread_local sigjmp_buf* map_guard_jump;

/// Installs the SIGBUS/SIGSEGV handler once per process; faults outside a
/// guard go to the previous handler (or the default action).
void install_map_guard();

/// Reads the first and last byte of `v` so that a value past the end of
/// the file faults here, inside the guard.
inline void touch(const MDB_val& v) {
  if (v.mv_size == 0)
    return;
  auto p = static_cast<const volatile char*>(v.mv_data);
  static_cast<void>(p[0]);
  static_cast<void>(p[v.mv_size - 1]);
}

/// Runs `f` (LMDB calls) with a fault inside it turned into
/// MDB_PAGE_NOTFOUND. The jump buffer does not save the signal mask: that
/// would cost a sigprocmask system call per LMDB call, and the handler is
/// installed with SA_NODEFER and an empty sa_mask, so the mask a jump out
/// of it leaves is the mask the guard was entered with.
template <class F>
int guarded(F&& f) {
  sigjmp_buf buf;
  sigjmp_buf* const outer = map_guard_jump;
  if (sigsetjmp(buf, 0) != 0) {
    map_guard_jump = outer;
    return MDB_PAGE_NOTFOUND;
  }
  map_guard_jump = &buf;
  int rc = f();
  map_guard_jump = outer;
  return rc;
}

inline int safe_get(MDB_txn* txn, MDB_dbi dbi, MDB_val* k, MDB_val* v) {
  return guarded([&] {
    int rc = mdb_get(txn, dbi, k, v);
    if (rc == MDB_SUCCESS)
      touch(*v);
    return rc;
  });
}

inline int safe_cursor_get(MDB_cursor* cur, MDB_val* k, MDB_val* v,
                           MDB_cursor_op op) {
  return guarded([&] {
    int rc = mdb_cursor_get(cur, k, v, op);
    if (rc == MDB_SUCCESS) {
      touch(*k);
      touch(*v);
    }
    return rc;
  });
}

inline int safe_put(MDB_txn* txn, MDB_dbi dbi, MDB_val* k, MDB_val* v,
                    unsigned flags) {
  return guarded([&] { return mdb_put(txn, dbi, k, v, flags); });
}

inline int safe_del(MDB_txn* txn, MDB_dbi dbi, MDB_val* k, MDB_val* v) {
  return guarded([&] { return mdb_del(txn, dbi, k, v); });
}

inline int safe_cursor_del(MDB_cursor* cur, unsigned flags) {
  return guarded([&] { return mdb_cursor_del(cur, flags); });
}

inline int safe_dbi_open(MDB_txn* txn, const char* name, unsigned flags,
                         MDB_dbi* dbi) {
  return guarded([&] { return mdb_dbi_open(txn, name, flags, dbi); });
}

inline int safe_stat(MDB_txn* txn, MDB_dbi dbi, MDB_stat* st) {
  return guarded([&] { return mdb_stat(txn, dbi, st); });
}

} // namespace perdure::eventlog::detail
