// SPDX-License-Identifier: Apache-2.0
#pragma once

// The storage layout of projections (FORMAT.md, "Projections"): the feed
// of an event-sourced actor class, a projection's registration, offset and
// rows. The one schema the actors module writes and the CLI reads; plus
// the two storage-level operations both need (status, reset).
//
//   actor-feed/<class>        one actor_feed record per emitted event, in
//                             commit order (written with the call's record)
//   projection/<name>         directory entry; metadata: projection_meta
//   offsets: projection/<name>  the feed seq handled last (0: none)
//   projection/<name>/<key>   one row of an exactly-once projection; its
//                             value is the stream's directory metadata

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <fmt/format.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::projection_records {

/// The record kind of a feed entry (record_kind::actor_feed).
inline constexpr std::uint16_t actor_feed_kind =
  static_cast<std::uint16_t>(eventlog::record_kind::actor_feed);

/// actor_feed: one event of actor `actor`, emitted by the call logged at
/// `seq` of the actor's stream (fields as in actor_records::stored_event).
struct feed_event {
  std::string actor;
  std::uint64_t seq = 0;
  std::string type;
  std::string signature;
  codec::bytes data;
};

/// The directory metadata of `projection/<name>`.
struct projection_meta {
  std::string source; ///< the actor class it reads, or workflows_source
  bool exactly_once = false; ///< rows in the store (else a user handler)
};

PERDURE_FIELDS(feed_event, actor, seq, type, signature, data)
PERDURE_FIELDS(projection_meta, source, exactly_once)

/// The source of a projection over every workflow's records.
inline constexpr std::string_view workflows_source = "@workflows";

/// The feed a projection over `source` reads: the workflow feed for
/// workflows_source, else the actor class's feed.
inline std::string feed_stream(std::string_view source) {
  if (source == workflows_source)
    return std::string{records::workflow_feed_stream};
  return fmt::format("actor-feed/{}", source);
}
inline std::string meta_stream(std::string_view name) {
  return fmt::format("projection/{}", name);
}
inline std::string offset_key(std::string_view name) {
  return meta_stream(name);
}
inline std::string row_stream(std::string_view name, std::string_view key) {
  return fmt::format("projection/{}/{}", name, key);
}

/// A projection as stored: where it is in its source's feed.
struct projection_state {
  std::string name;
  projection_meta meta;
  std::uint64_t position = 0; ///< feed seq handled last
  std::uint64_t head = 0;     ///< the feed's last seq
  std::uint64_t lag() const noexcept {
    return head > position ? head - position : 0;
  }
};

/// Every registered projection of `log`, by name. Reads the directory
/// one projection at a time, jumping over each one's rows (row keys are
/// UTF-8, never byte 0xff), so rows cost nothing here.
inline result<std::vector<projection_state>> list_projections(
  const eventlog::event_log& log) {
  std::vector<projection_state> out;
  constexpr std::string_view prefix = "projection/";
  std::string after;
  for (;;) {
    auto page = log.list_prefix(prefix, after, 1);
    if (!page)
      return std::move(page).error();
    if (page->empty())
      break;
    auto& s = page->front();
    std::string_view id = s.id;
    auto slash = id.find('/', prefix.size());
    if (slash != std::string_view::npos) { // a row: skip its projection's
      after = std::string{id.substr(0, slash + 1)} + "\xff";
      continue;
    }
    after = s.id;
    if (s.kind != eventlog::stream_kind::other)
      continue;
    projection_state p;
    p.name = std::string{id.substr(prefix.size())};
    auto m = codec::decode<projection_meta>(s.metadata);
    if (!m)
      return unexpected{errc::corruption,
                        fmt::format("projection '{}': bad metadata: {}",
                                    p.name, m.error().message())};
    p.meta = std::move(*m);
    auto off = log.offset(offset_key(p.name));
    if (!off)
      return std::move(off).error();
    p.position = static_cast<std::uint64_t>(off->value_or(0));
    auto feed = log.info(feed_stream(p.meta.source));
    if (feed)
      p.head = feed->last_seq;
    else if (feed.error() != errc::not_found)
      return std::move(feed).error();
    out.push_back(std::move(p));
  }
  return out;
}

/// The rows of exactly-once projection `name`, by key (values encoded as
/// the projection put them).
inline result<std::map<std::string, std::string>> read_rows(
  const eventlog::event_log& log, std::string_view name) {
  auto prefix = row_stream(name, "");
  auto rows = log.list_prefix(prefix);
  if (!rows)
    return std::move(rows).error();
  std::map<std::string, std::string> out;
  for (auto& s : *rows)
    out.emplace(s.id.substr(prefix.size()), std::move(s.metadata));
  return out;
}

/// Forgets where projection `name` is and drops its rows, in one batch:
/// it is rebuilt from the feed's beginning when it runs next. `not_found`
/// when no such projection is registered. A projection running meanwhile
/// in an engine keeps its own position: reset it through the engine
/// (perdure::reset_projection) or while it is stopped.
inline status reset_projection(eventlog::event_log& log,
                               std::string_view name) {
  if (auto i = log.info(meta_stream(name)); !i) {
    if (i.error() == errc::not_found)
      return {errc::not_found, fmt::format("no projection '{}'", name)};
    return i.error();
  }
  auto rows = read_rows(log, name);
  if (!rows)
    return std::move(rows).error();
  eventlog::write_batch b;
  for (auto& [key, value] : *rows)
    b.remove(row_stream(name, key));
  b.put_offset(offset_key(name), 0);
  return log.commit(std::move(b)).as_status();
}

} // namespace perdure::projection_records
