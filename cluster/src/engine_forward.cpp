// SPDX-License-Identifier: Apache-2.0
// Any node serves any id: a request runs on this host's engine when it
// leads the id's partition, else goes to the owner's door (the endpoint in
// its claim), tried again by the same id while ownership changes.

#include "engine_children.hpp"
#include "engine_door.hpp"
#include "engine_keyed.hpp"
#include "metadata_wire.hpp"

#include "perdure/eventlog/codec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <tuple>

namespace perdure::cluster {

namespace {

// Waits until the partition's store holds workflow `id`: the store
// applies only what the log holds, so the start is durable then.
result<std::string> stored(engine_host& host, const std::string& id,
                           std::chrono::milliseconds limit) {
  auto store = host.cluster_node().store(host.routing().partition_of(id));
  if (!store)
    return unexpected{errc::closed, "the node is stopping (retry)"};
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (int round = 0;; ++round) {
    auto info = store->info(id);
    if (info)
      return std::string{};
    if (info.error() != errc::not_found)
      return std::move(info).error();
    if (std::chrono::steady_clock::now() >= deadline)
      return unexpected{errc::timeout,
                        fmt::format("workflow '{}' was not stored within "
                                    "{} ms (retry)",
                                    id, limit.count())};
    // A group commit through the log: milliseconds.
    std::this_thread::sleep_for(std::chrono::milliseconds{
      std::min(1 << std::min(round, 5), 20)});
  }
}

// Submits the workflow whose graph is `bytes` as `id`. A live id (a
// retried request) is waited for by the caller; a finished one answers its
// stored output; a stored unfinished one resumes.
perdure::status submit_graph(engine& eng, const std::string& id,
                             const std::string& bytes) {
  auto root = decode_workflow_graph(bytes);
  if (!root)
    return std::move(root).error();
  auto st = eng.submit(*root, id, {});
  if (!st && st.error().code() != errc::busy)
    return std::move(st).error();
  return {};
}

using listed = std::vector<std::tuple<std::string, std::uint8_t>>;

// The engine's `busy` for an operation on a live workflow means "it is
// live", not "try again": answered as conflict, or the sender would retry
// it (as it retries an owner that is changing) until forward_deadline.
perdure::status live_is_conflict(perdure::status st) {
  if (st.code() == errc::busy)
    return {errc::conflict, st.message()};
  return st;
}

result<std::string> list_on(engine& eng, const std::string& bytes) {
  auto codes = codec::decode<std::vector<std::uint8_t>>(bytes);
  if (!codes)
    return unexpected{errc::invalid_argument,
                      "a list request does not decode: "
                        + codes.error().message()};
  std::vector<workflow_status> filter;
  for (auto c : *codes)
    filter.push_back(static_cast<workflow_status>(c));
  auto entries = eng.try_list(std::move(filter));
  if (!entries)
    return std::move(entries).error();
  listed out;
  out.reserve(entries->size());
  for (auto& e : *entries)
    out.emplace_back(std::move(e.id), static_cast<std::uint8_t>(e.status));
  return codec::encode(out);
}

result<std::string> run_on(engine_host& host,
                           const engine_host_options& options, engine& eng,
                           request_kind kind, const std::string& id,
                           const std::string& name, const std::string& bytes,
                           std::chrono::milliseconds wait) {
  switch (kind) {
    case request_kind::run:
      if (auto st = submit_graph(eng, id, bytes); !st)
        return unexpected{std::move(st)};
      return eng.output_bytes(id, {});
    case request_kind::start:
      if (auto st = submit_graph(eng, id, bytes); !st)
        return unexpected{std::move(st)};
      return stored(host, id, wait);
    case request_kind::status: {
      auto s = eng.try_status(id);
      if (!s)
        return std::move(s).error();
      return std::string(1, static_cast<char>(*s));
    }
    case request_kind::output:
      return eng.output_bytes(id, name);
    case request_kind::cancel: {
      auto st = eng.try_cancel(id);
      if (!st)
        return unexpected{std::move(st)};
      return std::string{};
    }
    case request_kind::signal:
      return keyed_signal(host, eng, id, name, bytes);
    case request_kind::promise:
      return keyed_settle(eng, id, name, bytes);
    case request_kind::list:
      return list_on(eng, bytes);
    case request_kind::metadata: {
      auto m = eng.try_metadata(id);
      if (!m)
        return std::move(m).error();
      return encode_metadata(*m);
    }
    case request_kind::step_metadata: {
      auto m = eng.try_metadata(id, name);
      if (!m)
        return std::move(m).error();
      return encode_step_metadata(*m);
    }
    case request_kind::remove: {
      auto st = eng.try_remove(id);
      if (!st)
        return unexpected{live_is_conflict(std::move(st))};
      return std::string{};
    }
    case request_kind::resume: {
      auto h = eng.try_resume(id);
      if (!h)
        return unexpected{live_is_conflict(std::move(h).error())};
      return std::string{};
    }
    case request_kind::child_start: {
      auto st = start_child_here(eng, id, bytes);
      if (!st)
        return unexpected{std::move(st)};
      return stored(host, id, wait);
    }
    case request_kind::child_ended:
      child_ended_here(eng, name);
      return std::string{};
    case request_kind::actor_call: {
      if (!options.actor_calls)
        return unexpected{errc::invalid_argument,
                          fmt::format("actor '{}': this node serves no "
                                      "actors (engine_host_options::"
                                      "actor_calls)",
                                      id)};
      auto r = options.actor_calls(eng, id, name, bytes, wait);
      if (!r)
        return unexpected{std::move(r).error()};
      return r;
    }
  }
  return unexpected{errc::invalid_argument,
                    fmt::format("request kind {} is unknown",
                                static_cast<int>(kind))};
}

bool worth_again(errc c) {
  return c == errc::busy || c == errc::closed || c == errc::io
         || c == errc::timeout;
}

} // namespace

result<std::string> serve_request(engine_host& host,
                                  const engine_host_options& options,
                                  request_kind kind, const std::string& id,
                                  const std::string& name,
                                  const std::string& bytes) {
  auto eng = host.engine_for(id);
  if (!eng) {
    if (eng.error().code() == errc::conflict)
      return unexpected{errc::busy, eng.error().message() + " (retry)"};
    return std::move(eng).error();
  }
  // Answer within the sender's request_timeout (the nodes of a cluster
  // share it), or the sender gives up first and tries again.
  return run_on(host, options, **eng, kind, id, name, bytes,
                options.request_timeout * 4 / 5);
}

result<std::string> forward_request(engine_host& host,
                                    engine_door* door,
                                    const engine_host_options& options,
                                    request_kind kind, std::string_view id,
                                    std::string_view name, std::string bytes,
                                    std::chrono::milliseconds limit) {
  if (id.empty())
    return unexpected{errc::invalid_argument,
                      "a request through engine_host needs a workflow id "
                      "(it routes by it)"};
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::string sid{id}, sname{name};
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) {
      if (door)
        ++door->forward_retries;
      std::this_thread::sleep_for(
        std::chrono::milliseconds{std::min(20 * attempt, 200)});
    }
    auto eng = host.engine_for(id);
    result<std::string> r = std::string{};
    if (eng) {
      r = run_on(host, options, **eng, kind, sid, sname, bytes,
                 options.request_timeout);
    } else if (eng.error().code() == errc::conflict) {
      auto p = host.routing().partition_of(id);
      auto parts = host.cluster_node().partitions();
      auto endpoint = p < parts.size() ? parts[p].owner_endpoint : "";
      if (!door || endpoint.empty())
        return unexpected{errc::conflict,
                          eng.error().message()
                            + (door ? ", which has no door to forward to"
                                    : "; this host has no door "
                                      "(serve_address) to forward with")};
      ++door->forwarded;
      r = door->call(endpoint, static_cast<std::uint8_t>(kind), sid, sname,
                     bytes, options.request_timeout);
    } else if (eng.error().code() == errc::busy) {
      r = std::move(eng).error();
    } else {
      return std::move(eng).error(); // closed: this host stopped
    }
    if (r || !worth_again(r.error().code())
        || std::chrono::steady_clock::now() >= deadline)
      return r;
  }
}

result<workflow_status> status_answer(result<std::string> r) {
  if (!r)
    return std::move(r).error();
  if (r->size() != 1)
    return unexpected{errc::corruption, "a status answer is not one byte"};
  return static_cast<workflow_status>(static_cast<unsigned char>((*r)[0]));
}

result<workflow_status> engine_host::try_status(std::string_view id) {
  return status_answer(request(request_kind::status, id, {}, {}));
}

perdure::status engine_host::try_cancel(std::string_view id) {
  auto r = request(request_kind::cancel, id, {}, {});
  return r ? perdure::status{} : std::move(r).error();
}

result<workflow_metadata> engine_host::try_metadata(std::string_view id) {
  auto r = request(request_kind::metadata, id, {}, {});
  if (!r)
    return std::move(r).error();
  return decode_metadata(*r);
}

result<step_metadata> engine_host::try_metadata(std::string_view id,
                                                std::string_view step) {
  auto r = request(request_kind::step_metadata, id, step, {});
  if (!r)
    return std::move(r).error();
  return decode_step_metadata(*r);
}

perdure::status engine_host::try_remove(std::string_view id) {
  auto r = request(request_kind::remove, id, {}, {});
  return r ? perdure::status{} : std::move(r).error();
}

perdure::status engine_host::try_resume(std::string_view id) {
  auto r = request(request_kind::resume, id, {}, {});
  return r ? perdure::status{} : std::move(r).error();
}

result<std::vector<workflow_entry>>
engine_host::try_list(std::vector<workflow_status> filter) {
  std::vector<std::uint8_t> codes;
  for (auto s : filter)
    codes.push_back(static_cast<std::uint8_t>(s));
  auto bytes = codec::encode(codes);
  // One request per partition, to its owner: an id that maps there routes
  // it (the owner's engine lists only its partition's workflows).
  auto& map = routing();
  std::vector<std::string> route(map.partitions());
  std::size_t found = 0;
  for (std::uint64_t k = 0; found < route.size(); ++k) {
    auto id = "perdure-list-" + std::to_string(k);
    auto& slot = route[map.partition_of(id)];
    if (slot.empty()) {
      slot = std::move(id);
      ++found;
    }
  }
  std::vector<workflow_entry> out;
  for (std::size_t p = 0; p < route.size(); ++p) {
    auto r = request(request_kind::list, route[p], {}, bytes);
    if (!r)
      return unexpected{r.error().code(),
                        fmt::format("listing partition {}: {}", p,
                                    r.error().message())};
    auto entries = codec::decode<listed>(*r);
    if (!entries)
      return unexpected{errc::corruption,
                        fmt::format("partition {}'s list does not decode: "
                                    "{}",
                                    p, entries.error().message())};
    for (auto& [id, st] : *entries)
      out.push_back({std::move(id), static_cast<workflow_status>(st)});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

} // namespace perdure::cluster
