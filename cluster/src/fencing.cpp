// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/fencing.hpp"

#include <cassert>

namespace perdure::cluster {

std::string_view to_string(verdict v) noexcept {
  switch (v) {
  case verdict::claim:
    return "claim";
  case verdict::effective:
    return "effective";
  case verdict::fenced:
    return "fenced";
  case verdict::foreign_writer:
    return "foreign_writer";
  case verdict::duplicate:
    return "duplicate";
  }
  return "unknown";
}

verdict judge(fence_state& state, log_offset offset, const log_entry& entry) {
  assert(offset >= state.next);
  state.next = offset + 1;
  if (auto* c = std::get_if<claim_entry>(&entry)) {
    // Every claim starts an epoch, even a duplicate of the owner's own
    // claim: its groups of the earlier epoch that land later are inert.
    state.epoch = offset;
    state.owner = c->claimant;
    state.owner_endpoint = c->endpoint;
    state.last_sequence = 0;
    return verdict::claim;
  }
  auto& g = std::get<group_entry>(entry);
  if (state.epoch == no_epoch || g.epoch != state.epoch)
    return verdict::fenced;
  if (g.writer != state.owner)
    return verdict::foreign_writer;
  if (g.sequence <= state.last_sequence)
    return verdict::duplicate;
  state.last_sequence = g.sequence;
  return verdict::effective;
}

} // namespace perdure::cluster
