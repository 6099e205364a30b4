// SPDX-License-Identifier: Apache-2.0
// signal_workflows: a subscription's records become signals to running
// workflows, stored with the consumed offsets in one transaction (so each
// record's signal is stored exactly once). A signal expects its
// workflow's last seq (never stored for a workflow that ended meanwhile),
// so a commit meets a conflict when one of its workflows logged between
// the read and the commit: the records are then committed in smaller
// prefixes, in consumption order, down to one at a time.

#include "kafka_subscription.hpp"


#include <chrono>
#include <optional>

namespace perdure {

using detail::add_consumed;
using detail::dl_reason_of;
using detail::undecodable;

namespace {

// One consumed record: its signal, or why it is poison.
struct signal_item {
  kafka_record r;
  std::optional<record_signal::signal> sig;
  std::string undecodable_why;
};

// An error of the storage, not of the record: the batch is consumed
// again. Anything else (unknown, finished or canceled workflow, a bad
// name or value) is the record's: a dead letter.
bool storage_error(const status& st) {
  return st == errc::io || st == errc::closed || st == errc::full
         || st == errc::timeout || st == errc::corruption
         || st == errc::permission;
}

} // namespace

bool subscription::impl::commit_signals(
  std::vector<rd_kafka_message_t*>& msgs) {
  std::vector<signal_item> items;
  items.reserve(msgs.size());
  for (auto* m : msgs) {
    signal_item it{detail::to_kafka_record(m), std::nullopt, {}};
    try {
      it.sig = signals.make(it.r);
    } catch (const std::exception& e) {
      it.undecodable_why = e.what();
    } catch (...) {
      it.undecodable_why = "unknown exception";
    }
    items.push_back(std::move(it));
  }
  std::size_t done = 0, chunk = items.size();
  int conflicts = 0, starting = 0;
  while (done < items.size()) {
    auto end = std::min(items.size(), done + chunk);
    eventlog::write_batch b;
    std::vector<dead_letter> poison;
    std::map<std::int32_t, std::int64_t> next;
    std::size_t sent = 0;
    bool wait_start = false;
    for (auto i = done; i < end && !wait_start; ++i) {
      auto& it = items[i];
      next[it.r.partition] =
        std::max(next[it.r.partition], it.r.offset + 1);
      if (!it.sig) {
        poison.push_back(undecodable(it.r, it.undecodable_why));
        continue;
      }
      auto st = eng->add_signal(
        b, it.sig->workflow, it.sig->name, it.sig->value,
        fmt::format("kafka/{}/{}/{}/{}", src.group, it.r.topic,
                    it.r.partition, it.r.offset));
      if (st) {
        ++sent;
      } else if (st == errc::busy) {
        wait_start = true; // its workflow's first batch is on its way
      } else if (storage_error(st)) {
        set_error(fmt::format("kafka subscription '{}': cannot signal: {}",
                              src.topic, st.to_string()));
        return false;
      } else {
        poison.push_back({it.r.topic, it.r.partition, it.r.offset, it.r.key,
                          it.r.value, dl_reason_of(st), it.sig->workflow});
      }
    }
    if (wait_start) {
      if (stopping || ++starting > 10'000)
        return false; // consumed again by the next subscription
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
      continue;
    }
    add_consumed(b, src, poison, next);
    auto c = eng->event_log()->commit(std::move(b));
    if (!c && c.error() == errc::conflict && !stopping
        && ++conflicts < 10'000) {
      chunk = std::max<std::size_t>(1, chunk / 2);
      continue;
    }
    if (!c) {
      set_error(fmt::format("kafka subscription '{}': cannot commit: {}",
                            src.topic, c.error().to_string()));
      return false;
    }
    records += end - done;
    dead += poison.size();
    started += sent;
    ++commits;
    commit_to_broker(next);
    done = end;
  }
  return true;
}

} // namespace perdure
