// SPDX-License-Identifier: Apache-2.0
// workflow_run's races (first_of, with_timeout): the first input of a race
// to succeed resolves it in the same batch, and the inputs nobody else
// needs any more (with what they started and the sub-graphs they own) are
// canceled there: timers removed, event waits dropped (plan::dropped),
// pending steps never started, running results ignored (`dead`). Replay
// derives the same losers from the logged winner.

#include "workflow_run.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace perdure::detail {

void workflow_run::resolve_race(std::uint32_t race, std::uint32_t winner,
                                plan& p) {
  auto& r = nodes_[race];
  auto& args = r.args;
  auto at = std::find_if(args.begin(), args.end(), [&](const arg_rt& a) {
    return a.what == arg::kind::node && a.node == winner;
  });
  auto out = at == args.end() || !r.def || !r.def->pick
               ? result<std::string>{unexpected{
                   errc::invalid_argument,
                   fmt::format("race '{}' has no input {}", r.id, winner)}}
               : r.def->pick(static_cast<std::size_t>(at - args.begin()),
                             *nodes_[winner].output);
  if (!out) {
    fail(race, "perdure::type_mismatch", out.error().message(), p);
    return;
  }
  succeed(race, std::move(*out), p);
  prune_losers(race, &p);
}

void workflow_run::prune_losers(std::uint32_t race, plan* p) {
  const auto& won = nodes_[race];
  auto needed = [&](std::uint32_t j) {
    auto& m = nodes_[j];
    if (j == root_)
      return true;
    if (m.continued_from >= 0 && !nodes_[m.continued_from].dead)
      return true;
    return std::any_of(m.consumers.begin(), m.consumers.end(), [&](auto c) {
      return !nodes_[c].dead && nodes_[c].state != step_state::succeeded;
    });
  };
  // The first node owned by a canceled node (only a node that continued
  // into a sub-graph owns any; they all come after its sub-graph's root).
  auto owned_from = static_cast<std::uint32_t>(nodes_.size());
  auto kill = [&](std::uint32_t j) {
    auto& m = nodes_[j];
    m.dead = true;
    if (m.continued_to >= 0)
      owned_from = std::min(owned_from,
                            static_cast<std::uint32_t>(m.continued_to));
    if (m.error_text.empty())
      m.error_text = fmt::format("perdure::canceled: lost the race '{}'",
                                 won.id);
    if (!p)
      return;
    if (m.due)
      p->batch.remove_timer(*m.due, id_, m.id);
    if (m.state == step_state::running)
      p->dropped.push_back(j);
  };
  // The race's inputs, and transitively theirs, that only the losers
  // needed.
  std::vector<std::uint32_t> todo = nodes_[race].inputs;
  while (!todo.empty()) {
    auto j = todo.back();
    todo.pop_back();
    auto& m = nodes_[j];
    if (m.dead || m.state == step_state::succeeded || needed(j))
      continue;
    kill(j);
    todo.insert(todo.end(), m.inputs.begin(), m.inputs.end());
  }
  // What the canceled nodes own (their sub-graphs): owners come first,
  // so one pass from there suffices (and a race of plain nodes, the
  // common case, costs no pass over a long workflow's nodes).
  for (auto k = owned_from; k < nodes_.size(); ++k) {
    auto& m = nodes_[k];
    if (!m.dead && m.owner >= 0 && nodes_[m.owner].dead
        && m.state != step_state::succeeded)
      kill(k);
  }
}

void workflow_run::resume_races(plan& p) {
  // A race whose input succeeded while it could not be resolved (not
  // expected: both go in one batch) resolves now, by argument order.
  for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
    auto& r = nodes_[i];
    if (!r.is_race() || r.state != step_state::pending || r.dead
        || end_ != run_end::none)
      continue;
    for (auto& a : r.args)
      if (a.what == arg::kind::node
          && nodes_[a.node].state == step_state::succeeded) {
        resolve_race(i, a.node, p);
        break;
      }
  }
}

} // namespace perdure::detail
