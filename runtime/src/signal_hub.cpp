// SPDX-License-Identifier: Apache-2.0
// The engine's side of signals that is not the source's thread: which
// committed batches wake the signal source, how a direct signal is stored,
// and the per-workflow sender locks (signal_source.hpp).

#include "signal_source.hpp"

#include "perdure/eventlog/records/workflow.hpp"

namespace perdure::detail {

namespace rec = perdure::records;

std::string signal_offset_key(eventlog::time_ns created,
                              std::string_view workflow,
                              std::string_view name) {
  return rec::signal_offset_key(created, workflow, name);
}

void signal_hub::committed(const eventlog::write_batch& b) {
  constexpr std::string_view prefix = "signals/";
  std::shared_ptr<signal_source> src;
  for (auto& op : b.ops()) {
    if (op.what != eventlog::write_batch::op::type::append
        || (op.number != rec::to_u16(rec::record_kind::signal_sent)
            && op.number != rec::to_u16(rec::record_kind::promise_settled))
        || !op.stream.starts_with(prefix))
      continue;
    if (!src) {
      std::lock_guard guard{mu};
      src = source.lock();
      if (!src)
        return; // no wait was ever armed: nobody to wake
    }
    src->notify(op.stream.substr(prefix.size()));
  }
}

void direct_event::add_to(eventlog::write_batch& b) const {
  b.create(stream, eventlog::stream_kind::listener);
  b.append(stream, rec::to_u16(rec::record_kind::signal_sent), payload);
  if (!mark.empty())
    b.put_offset(mark, 1);
}

std::shared_ptr<std::mutex> signal_hub::sender_lock(
  const std::string& workflow) {
  std::lock_guard guard{mu};
  std::erase_if(senders_, [](auto& e) { return e.second.expired(); });
  auto& slot = senders_[workflow];
  auto m = slot.lock();
  if (!m) {
    m = std::make_shared<std::mutex>();
    slot = m;
  }
  return m;
}

} // namespace perdure::detail
