// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/lmdb_replica_store.hpp"

#include <cstring>

#include <fmt/format.h>

namespace perdure::cluster {

namespace {

// Format 1: the fixed part, then the owner's node id (the rest). Format 2
// (written since claims carry endpoints): the fixed part, the node id's
// length (u8), the node id, then the owner's endpoint (the rest).
constexpr std::uint8_t fence_format = 2;
constexpr std::size_t fence_fixed = 1 + 8 * 4;

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

template <class T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

} // namespace

std::string encode_group_bytes(eventlog::time_ns now,
                               std::span<const eventlog::write_batch> b) {
  return eventlog::encode_group(now, b);
}

std::string encode_fence_state(const fence_state& s) {
  std::string out;
  put(out, fence_format);
  put(out, s.next);
  put(out, s.epoch);
  put(out, s.last_sequence);
  put(out, s.owner.incarnation);
  put(out, static_cast<std::uint8_t>(s.owner.node.size()));
  out += s.owner.node;
  out += s.owner_endpoint;
  return out;
}

result<fence_state> decode_fence_state(std::string_view b) {
  auto bad = [&] {
    return unexpected{errc::corruption,
                      fmt::format("stored fence state of {} bytes is not "
                                  "of format 1 or {}",
                                  b.size(), fence_format)};
  };
  if (b.size() < fence_fixed || (b[0] != 1 && b[0] != 2))
    return bad();
  auto rest = b.substr(fence_fixed);
  std::string_view node = rest, endpoint;
  if (b[0] == 2) {
    if (rest.empty())
      return bad();
    auto n = static_cast<std::uint8_t>(rest[0]);
    if (rest.size() - 1 < n || rest.size() - 1 - n > max_endpoint_size)
      return bad();
    node = rest.substr(1, n);
    endpoint = rest.substr(1 + n);
  }
  if (node.size() > max_node_id_size)
    return bad();
  fence_state s;
  s.next = get<log_offset>(b.data() + 1);
  s.epoch = get<log_offset>(b.data() + 9);
  s.last_sequence = get<std::uint64_t>(b.data() + 17);
  s.owner.incarnation = get<std::uint64_t>(b.data() + 25);
  s.owner.node.assign(node);
  s.owner_endpoint.assign(endpoint);
  return s;
}

result<std::unique_ptr<lmdb_replica_store>>
lmdb_replica_store::open(eventlog::options opts) {
  auto log = eventlog::event_log::open(std::move(opts));
  if (!log)
    return log.error();
  auto store = std::make_unique<lmdb_replica_store>(**log);
  store->owned_ = std::shared_ptr<eventlog::event_log>{std::move(*log)};
  return store;
}

lmdb_replica_store::lmdb_replica_store(eventlog::event_log& log)
    : log_(log) {}

result<fence_state> lmdb_replica_store::load() {
  auto info = log_.info(fence_stream);
  if (!info && info.error().code() == errc::not_found) {
    stored_ = {};
  } else if (!info) {
    return info.error();
  } else {
    auto s = decode_fence_state(info->metadata);
    if (!s)
      return s.error();
    stored_ = *s;
  }
  loaded_ = true;
  return stored_;
}

status lmdb_replica_store::commit(std::vector<eventlog::write_batch> batches,
                                  eventlog::time_ns now,
                                  std::string_view writer,
                                  const fence_state& state,
                                  log_offset offset) {
  auto bytes = encode_fence_state(state);
  eventlog::write_batch fence;
  fence.create(fence_stream, eventlog::stream_kind::other, bytes);
  fence.set_metadata(fence_stream, bytes);
  batches.push_back(std::move(fence));
  auto n = batches.size();
  auto r = log_.apply_group(std::move(batches), now, writer);
  if (!r)
    return {r.error().code(),
            fmt::format("applying the group at offset {}: {}", offset,
                        r.error().message())};
  if (r->size() != n || !r->back())
    return {errc::io,
            fmt::format("applying the group at offset {}: the fence state "
                        "was not stored ({})",
                        offset,
                        r->size() == n ? r->back().error().message()
                                       : "no result")};
  stored_ = state;
  if (observer_ && offset >= 0)
    observer_(offset, std::span{r->data(), n - 1});
  return {};
}

status lmdb_replica_store::apply(std::span<const applied_group> groups,
                                 const fence_state& after) {
  if (!loaded_)
    if (auto s = load(); !s)
      return s.error();
  for (std::size_t i = 0; i < groups.size(); ++i) {
    auto& g = groups[i];
    if (g.offset < stored_.next)
      continue; // stored already
    auto decoded = eventlog::decode_group(g.group.bytes);
    if (!decoded)
      return {errc::corruption,
              fmt::format("group at offset {}: {}", g.offset,
                          decoded.error().message())};
    fence_state state = after;
    if (i + 1 < groups.size())
      state = {g.offset + 1, g.group.epoch, g.group.writer,
               g.group.sequence, g.endpoint};
    // Records are stamped with the group's time; 0 would mean "now".
    auto now = decoded->now != 0 ? decoded->now : 1;
    if (auto st = commit(std::move(decoded->batches), now,
                         g.group.writer.node, state, g.offset);
        !st)
      return st;
  }
  if (after.next <= stored_.next)
    return {};
  // Nothing left but records that took no effect: only the state moves.
  // Its time stamp is fixed, so that every replica stores the same.
  return commit({}, 1, "perdure.cluster", after, -1);
}

} // namespace perdure::cluster
