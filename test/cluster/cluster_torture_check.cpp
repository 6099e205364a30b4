// SPDX-License-Identifier: Apache-2.0
// The cluster torture's check: an independent reading of the raw log (the
// rule written again, apart from judge(), as in cluster_simulation) against
// the nodes' LMDB stores and the answers the nodes gave.

#include "cluster_torture.hpp"

#include "perdure/cluster/kafka_log.hpp"
#include "perdure/cluster/lmdb_replica_store.hpp"
#include "perdure/cluster/log_entry.hpp"
#include "perdure/cluster/node.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace perdure::torture {

namespace {

using namespace std::chrono_literals;
using cluster::log_offset;

using applied_list = std::vector<std::pair<log_offset, std::string>>;

std::unique_ptr<cluster::kafka_log> open_log(const std::string& brokers,
                                             const std::string& app) {
  auto log = cluster::kafka_log::open(
      {.brokers = brokers,
       .app = app,
       .properties = {{"fetch.wait.max.ms", "5"}},
       .log = [](eventlog::log_level, std::string_view) {}});
  if (!log)
    return nullptr;
  return std::move(*log);
}

// The payload a perdure-cluster-node group carries (stream "s").
std::string payload_of(const std::string& bytes) {
  auto g = eventlog::decode_group(bytes);
  if (!g || g->batches.empty() || g->batches[0].ops().empty())
    return "<undecodable group>";
  return g->batches[0].ops()[0].data;
}

// The rule read straight off the raw log.
applied_list oracle(const std::vector<cluster::log_record>& records,
                    log_figures& f, std::vector<std::string>& problems) {
  applied_list out;
  log_offset claim_at = -1;
  cluster::node_identity claimant;
  std::uint64_t last = 0;
  for (auto& r : records) {
    ++f.records;
    auto e = cluster::decode(r.bytes);
    if (!e) {
      problems.push_back(fmt::format("undecodable record at {}: {}",
                                     r.offset, e.error().to_string()));
      return out;
    }
    if (auto* c = std::get_if<cluster::claim_entry>(&*e)) {
      ++f.claims;
      claim_at = r.offset;
      claimant = c->claimant;
      last = 0;
      continue;
    }
    auto& g = std::get<cluster::group_entry>(*e);
    if (g.epoch != claim_at) {
      ++f.fenced;
    } else if (!(g.writer == claimant)) {
      ++f.foreign;
    } else if (g.sequence <= last) {
      ++f.duplicate;
    } else {
      ++f.effective;
      last = g.sequence;
      if (!g.bytes.empty())
        out.emplace_back(r.offset, payload_of(g.bytes));
    }
  }
  return out;
}

std::vector<cluster::log_record> read_all(cluster::partition_log& p,
                                          log_offset end) {
  std::vector<cluster::log_record> out;
  auto limit = std::chrono::steady_clock::now() + 120s;
  log_offset next = 0;
  while (next < end && std::chrono::steady_clock::now() < limit) {
    auto r = p.read(next, 1000, 200ms);
    if (!r)
      break;
    for (auto& rec : *r) {
      next = rec.offset + 1;
      out.push_back(std::move(rec));
    }
  }
  return out;
}

struct store_view {
  cluster::fence_state state;
  std::vector<std::string> payloads;
};

result<store_view> read_store(const std::filesystem::path& dir) {
  auto o = cluster::default_node_store();
  o.dir = dir;
  o.read_only = true;
  auto log = eventlog::event_log::open(o);
  if (!log)
    return log.error();
  store_view v;
  auto info = (*log)->info(cluster::fence_stream);
  if (info) {
    auto s = cluster::decode_fence_state(info->metadata);
    if (!s)
      return s.error();
    v.state = *s;
  } else if (info.error().code() != errc::not_found) {
    return info.error();
  }
  auto recs = (*log)->read("s");
  if (recs) {
    for (auto& r : *recs)
      v.payloads.push_back(r.payload);
  } else if (recs.error().code() != errc::not_found) {
    return recs.error();
  }
  return v;
}

// Checks one store; returns where it resumes (-1: unreadable).
log_offset check_store(const std::filesystem::path& dir, int p,
                       log_offset caught, const applied_list& applied,
                       std::vector<std::string>& problems) {
  auto where = fmt::format("store {}", dir.string());
  auto v = read_store(dir);
  if (!v) {
    problems.push_back(fmt::format("{}: {}", where, v.error().to_string()));
    return -1;
  }
  if (v->state.next < caught)
    problems.push_back(fmt::format("{}: resumes at {}, the log was at {} "
                                   "(not caught up)",
                                   where, v->state.next, caught));
  std::vector<std::string> expected;
  for (auto& [off, payload] : applied)
    if (off < v->state.next)
      expected.push_back(payload);
  if (v->payloads == expected)
    return v->state.next;
  std::size_t i = 0;
  while (i < expected.size() && i < v->payloads.size()
         && expected[i] == v->payloads[i])
    ++i;
  problems.push_back(fmt::format(
      "{} (partition {}): holds {} groups, the log's rule {} below {}; "
      "first difference at #{}: store '{}', log '{}'",
      where, p, v->payloads.size(), expected.size(), v->state.next, i,
      i < v->payloads.size() ? v->payloads[i] : "-",
      i < expected.size() ? expected[i] : "-"));
  return v->state.next;
}

} // namespace

std::vector<std::size_t>
caught_up_to(const std::vector<log_offset>& ends,
             const std::vector<node_answers>& nodes, std::size_t tailed_by,
             std::vector<std::vector<log_offset>>& caught) {
  std::vector<std::size_t> again;
  std::vector<std::size_t> tails(ends.size(), 0);
  caught.assign(nodes.size(), std::vector<log_offset>(ends.size(), 0));
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto& n = nodes[i];
    bool there = n.applied.size() == ends.size()
                 && n.tailing.size() == ends.size();
    for (std::size_t p = 0; there && p < ends.size(); ++p) {
      if (!n.tailing[p])
        continue;
      ++tails[p];
      caught[i][p] = ends[p];
      there = n.applied[p] >= ends[p];
    }
    if (!there)
      again.push_back(i);
  }
  if (!again.empty())
    return again;
  for (auto t : tails)
    if (t < tailed_by) { // a view not settled yet: ask everyone again
      for (std::size_t i = 0; i < nodes.size(); ++i)
        again.push_back(i);
      break;
    }
  return again;
}

std::vector<log_offset> end_offsets(const std::string& brokers,
                                    const std::string& app) {
  std::vector<log_offset> out;
  auto log = open_log(brokers, app);
  if (!log)
    return out;
  for (std::int32_t p = 0; p < log->partition_count(); ++p) {
    auto e = log->partition(p).end_offset(30s);
    if (!e)
      return {};
    out.push_back(*e);
  }
  return out;
}

std::vector<std::string>
check_cluster(const std::string& brokers, const std::string& app,
              const std::vector<std::filesystem::path>& node_dirs,
              const std::vector<std::vector<log_offset>>& caught_up,
              std::size_t tailed_by, const answer_book& book,
              log_figures& figures) {
  std::vector<std::string> problems;
  auto log = open_log(brokers, app);
  if (!log)
    return {"cannot open the log to check it"};
  std::map<std::string, std::pair<int, log_offset>> applied_at;
  for (std::int32_t p = 0; p < log->partition_count(); ++p) {
    auto end = log->partition(p).end_offset(30s);
    if (!end)
      return {fmt::format("end offset of partition {}: {}", p,
                          end.error().to_string())};
    auto records = read_all(log->partition(p), *end);
    if (records.empty() ? *end > 0 : records.back().offset + 1 < *end)
      problems.push_back(fmt::format("partition {}: read to {} of {}", p,
                                     records.empty()
                                         ? 0
                                         : records.back().offset + 1,
                                     *end));
    auto applied = oracle(records, figures, problems);
    for (auto& [off, payload] : applied)
      if (!applied_at.emplace(payload, std::pair{int{p}, off}).second)
        problems.push_back(fmt::format("payload {} applied twice", payload));
    // The end the driver saw (caught_up holds it where a node tails p).
    log_offset seen = 0;
    for (auto& c : caught_up)
      if (static_cast<std::size_t>(p) < c.size())
        seen = std::max(seen, c[static_cast<std::size_t>(p)]);
    std::size_t at_end = 0;
    for (std::size_t i = 0; i < node_dirs.size(); ++i) {
      auto caught = i < caught_up.size()
                            && static_cast<std::size_t>(p) < caught_up[i].size()
                        ? caught_up[i][static_cast<std::size_t>(p)]
                        : *end;
      auto dir = cluster::partition_dir(
        node_dirs[i], static_cast<cluster::partition_id>(p));
      if (check_store(dir, p, caught, applied, problems) >= seen)
        ++at_end;
      else
        ++figures.stores_behind;
    }
    if (at_end < tailed_by)
      problems.push_back(fmt::format("partition {}: {} stores reached "
                                     "offset {}, {} should have (owner and "
                                     "standbys)",
                                     p, at_end, seen, tailed_by));
  }
  for (auto& [payload, at] : book.acked) {
    auto it = applied_at.find(payload);
    if (it == applied_at.end())
      problems.push_back(fmt::format("acknowledged {} (partition {} offset "
                                     "{}) is not applied",
                                     payload, at.first, at.second));
    else if (it->second != at)
      problems.push_back(fmt::format("acknowledged {} at {}/{} is applied "
                                     "at {}/{}",
                                     payload, at.first, at.second,
                                     it->second.first, it->second.second));
  }
  for (auto& payload : book.failed)
    if (applied_at.count(payload))
      problems.push_back(fmt::format("{} was told failed but is applied",
                                     payload));
  return problems;
}

} // namespace perdure::torture
