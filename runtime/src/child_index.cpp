// SPDX-License-Identifier: Apache-2.0
// children_index: the children streams of running parents, read
// incrementally (child_index.hpp).

#include "child_index.hpp"

#include "perdure/eventlog/records/child.hpp"

#include <algorithm>

namespace perdure::detail {

namespace rec = perdure::records;

namespace {

std::string entry(std::string_view step, std::string_view child) {
  std::string e;
  e.reserve(step.size() + 1 + child.size());
  e.append(step).push_back('\0');
  e.append(child);
  return e;
}

} // namespace

result<bool> children_index::has(const eventlog::event_log& log,
                                 const std::string& parent,
                                 std::string_view step,
                                 std::string_view child) {
  auto& p = parents_[parent];
  auto key = entry(step, child);
  if (p.started.contains(key))
    return true;
  auto stream = rec::children_stream(parent);
  auto recs = log.read(stream, p.next);
  if (!recs) {
    if (recs.error() == errc::not_found)
      return false;
    return std::move(recs).error();
  }
  for (auto& r : *recs) {
    if (r.kind == rec::child_started_kind) {
      auto c = codec::decode<rec::child_started>(r.payload);
      if (!c) // read again at the next look: the same error, not a skip
        return unexpected{errc::corruption,
                          fmt::format("stream '{}' seq {}: {}", stream, r.seq,
                                      c.error().message())};
      p.started.insert(entry(c->step, c->child));
    }
    p.next = std::max(p.next, r.seq + 1);
  }
  return p.started.contains(key);
}

void children_index::add(const std::string& parent, std::string_view step,
                         std::string_view child) {
  parents_[parent].started.insert(entry(step, child));
}

void children_index::forget(const std::string& parent) {
  parents_.erase(parent);
}

} // namespace perdure::detail
