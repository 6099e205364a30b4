// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the child source knows of its parents' children streams
// (`children/<parent>`): each stream is read once, then only what was
// appended after the last look, so a parent that starts n children costs
// O(n) reads of its stream instead of one whole read per child.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/status.hpp"

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace perdure::detail {

/// One engine's index of the children its running parents started. The
/// child source's thread only; not thread-safe.
class children_index {
 public:
  /// Whether `parent`'s children stream in `log` names `child` as started
  /// by node `step`: the index, else the records appended since the last
  /// read. Errors: the read's, corruption for a record that does not
  /// decode.
  result<bool> has(const eventlog::event_log& log, const std::string& parent,
                   std::string_view step, std::string_view child);

  /// Notes that this engine committed `child` of `parent`'s `step`.
  void add(const std::string& parent, std::string_view step,
           std::string_view child);

  /// Forgets `parent` (it waits on no child any more).
  void forget(const std::string& parent);

 private:
  struct parent_children {
    eventlog::seq_t next = 1;                ///< the first seq not read yet
    std::unordered_set<std::string> started; ///< step + '\0' + child
  };
  std::unordered_map<std::string, parent_children> parents_;
};

} // namespace perdure::detail
