// SPDX-License-Identifier: Apache-2.0
// workflow_run's continue-as-new: a step returned continue_as_new(graph).
// begin_continue checks the graph and makes the next run; once the old
// run's batches are durable, continue_into writes, in one batch, the old
// run's archive (stream runs/ID/N), the removal of archives beyond
// keep_runs, the new run's first records and the drop of the old records
// from the workflow's stream (FORMAT.md, "Continue-as-new").

#include "workflow_run.hpp"

#include "perdure/eventlog/records/runs.hpp"

#include <fmt/format.h>

namespace perdure::detail {

namespace rec = perdure::records;

namespace {

// The output type of a logged signature "T(A,B)", as the workflow sees it.
std::string output_type(std::string_view signature, bool catching) {
  auto t = std::string{signature.substr(0, signature.find('('))};
  return catching ? "caught<" + t + ">" : t;
}

} // namespace

status workflow_run::begin_continue(std::uint32_t i,
                                    const std::shared_ptr<node>& graph,
                                    plan& p) {
  auto& n = nodes_[i];
  if (!graph || !graph->def)
    return {errc::invalid_argument,
            fmt::format("step '{}' returned continue_as_new without a graph",
                        n.id)};
  auto& root = nodes_[root_];
  auto want = output_type(root.signature, root.opts.catching);
  auto got = output_type(graph->def->signature, graph->catching);
  if (want != got)
    return {errc::type_mismatch,
            fmt::format("step '{}' continued workflow '{}' as new with a "
                        "graph of output {}; the workflow's output is {}",
                        n.id, id_, got, want)};
  auto next_no = run_no_ + 1;
  if (auto why = eventlog::check_stream_id(rec::run_stream(id_, run_no_));
      !why.empty())
    return {errc::invalid_argument,
            fmt::format("workflow '{}' cannot continue as new: its id is "
                        "too long for its run archive ({})",
                        id_, why)};
  auto next = create(id_, graph, meta_, capacity_, next_no);
  if (!next)
    return {next.error().code(),
            fmt::format("step '{}' continued workflow '{}' as new with a "
                        "graph that cannot run: {}",
                        n.id, id_, next.error().message())};
  (*next)->now_ = now_;
  p.next = std::shared_ptr<workflow_run>{std::move(*next)};
  p.continuing = i;
  return {};
}

void workflow_run::continue_into(plan& p,
                                 const std::vector<eventlog::record>& durable,
                                 const std::vector<std::uint32_t>& stale,
                                 std::size_t keep) {
  auto& next = *p.next;
  auto& n = nodes_[p.continuing];
  // Durable timers of this run's waits go (their waits were dropped).
  drop_timers(p);
  for (auto s : stale)
    p.batch.remove(rec::run_stream(id_, s));
  if (keep > 0) {
    auto archive = rec::run_stream(id_, run_no_);
    p.batch.create(archive, eventlog::stream_kind::other);
    for (auto& r : durable) {
      rec::run_record w;
      w.kind = r.kind;
      w.seq = r.seq;
      w.time = r.time;
      w.writer = r.writer;
      w.payload.data = r.payload;
      p.batch.append(archive, rec::to_u16(rec::record_kind::run_record),
                     codec::encode(w));
    }
    rec::workflow_continued end;
    end.run = run_no_;
    end.node = p.continuing;
    end.step = n.id;
    end.started = n.attempts.empty() ? 0 : n.attempts.back().start;
    p.batch.append(archive,
                   rec::to_u16(rec::record_kind::workflow_continued),
                   codec::encode(end));
  }
  // The new run's first records follow this run's last seq; the old
  // records before them leave the workflow's stream.
  next.logged_ = logged_;
  next.begin(p);
  p.batch.drop_before(id_, logged_ + 1);
}

} // namespace perdure::detail
