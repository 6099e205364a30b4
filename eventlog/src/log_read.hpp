// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the log's readers share (event_log.cpp, log_list.cpp): a stream's
// directory entry, and a checked cursor walk over one database.

#include "encoding.hpp"
#include "log_impl.hpp"

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace perdure::eventlog::detail {

/// The directory entry of `stream` in `txn`; `not_found` when absent,
/// `corruption` when it does not unframe.
status read_entry(const event_log::impl& self, MDB_txn* txn,
                  std::string_view stream, stream_info& out);

/// Walks `dbi` from `from` (or its first key) while `fn(key, value, res)`
/// returns true; a cursor error ends the walk as an error (a damaged page
/// must not pass for the end of the data), and so does a `res` fn sets.
template <class F>
status walk(MDB_txn* txn, MDB_dbi dbi, std::string_view what,
            const std::string* from, F&& fn) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != MDB_SUCCESS)
    return from_mdb(rc, fmt::format("mdb_cursor_open({})", what));
  MDB_val k = from ? as_val(*from) : MDB_val{}, v;
  status res;
  for (rc = safe_cursor_get(cur, &k, &v, from ? MDB_SET_RANGE : MDB_FIRST);
       rc == MDB_SUCCESS; rc = safe_cursor_get(cur, &k, &v, MDB_NEXT))
    if (!fn(as_view(k), as_view(v), res) || !res)
      break;
  mdb_cursor_close(cur);
  if (!res)
    return res;
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
    return from_mdb_read(rc, fmt::format("mdb_cursor_get({})", what));
  return {};
}

} // namespace perdure::eventlog::detail
