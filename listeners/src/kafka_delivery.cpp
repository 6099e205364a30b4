// SPDX-License-Identifier: Apache-2.0
// deliver_to: a subscription's records become actor calls, started a batch
// at a time and settled one batch behind (see kafka_subscription.hpp).

#include "kafka_subscription.hpp"


namespace perdure {

using detail::add_consumed;
using detail::dl_reason_of;
using detail::undecodable;

// An error that says nothing about the record (storage, shutdown): the
// batch is consumed again instead of dead-lettering the record.
bool subscription::impl::transient(const status& st) {
  return st == errc::io || st == errc::closed || st == errc::full
         || st == errc::busy || st == errc::conflict || st == errc::timeout
         || st == errc::corruption;
}

// Starts the call of `r` at `attempt`; false (and a dead letter) when
// its decoder threw.
bool subscription::impl::start_call(const kafka_record& r, int attempt,
                                    record_delivery::waiter& out,
                                    std::vector<dead_letter>& poison) {
  try {
    out = delivery.start(*eng, r, delivery_key(src, r, attempt));
    return true;
  } catch (const std::exception& e) {
    poison.push_back(undecodable(r, e.what()));
  } catch (...) {
    poison.push_back(undecodable(r, "unknown exception"));
  }
  return false;
}

subscription::impl::pending_batch subscription::impl::issue(
  const std::vector<rd_kafka_message_t*>& msgs) {
  pending_batch pb;
  pb.records = msgs.size();
  pb.calls.reserve(msgs.size());
  if (delivery.start_group)
    return issue_grouped(msgs, std::move(pb));
  for (auto* m : msgs) {
    auto r = detail::to_kafka_record(m);
    pb.next[r.partition] = std::max(pb.next[r.partition], r.offset + 1);
    record_delivery::waiter w;
    if (start_call(r, 1, w, pb.poison))
      pb.calls.push_back({std::move(r), std::move(w)});
  }
  return pb;
}

// The records of one key go to one actor in ONE message (applied in
// partition order, logged in one commit): a message, a log submission
// and a completion per key and batch instead of per record.
subscription::impl::pending_batch subscription::impl::issue_grouped(
  const std::vector<rd_kafka_message_t*>& msgs, pending_batch pb) {
  std::vector<kafka_record> recs;
  recs.reserve(msgs.size());
  std::unordered_map<std::string_view, std::vector<std::size_t>> by_key;
  std::vector<std::vector<std::size_t>*> order; // keys by first record
  for (auto* m : msgs) {
    recs.push_back(detail::to_kafka_record(m));
    auto& r = recs.back();
    pb.next[r.partition] = std::max(pb.next[r.partition], r.offset + 1);
  }
  for (std::size_t i = 0; i < recs.size(); ++i) {
    auto [it, fresh] = by_key.try_emplace(recs[i].key);
    if (fresh)
      order.push_back(&it->second);
    it->second.push_back(i);
  }
  std::vector<record_delivery::waiter> waits(recs.size());
  std::vector<std::string> poison(recs.size());
  std::vector<record_delivery::item> items;
  for (auto* idx : order) {
    items.clear();
    for (auto i : *idx)
      items.push_back({&recs[i], delivery_key(src, recs[i], 1), {}, {}});
    try {
      delivery.start_group(*eng, items);
    } catch (const std::exception& e) {
      for (auto& it : items)
        if (!it.wait && it.poison.empty())
          it.poison = e.what();
    }
    for (std::size_t k = 0; k < idx->size(); ++k) {
      waits[(*idx)[k]] = std::move(items[k].wait);
      poison[(*idx)[k]] = std::move(items[k].poison);
    }
  }
  // Settled in consumption order, as issue() does.
  for (std::size_t i = 0; i < recs.size(); ++i) {
    if (waits[i])
      pb.calls.push_back({std::move(recs[i]), std::move(waits[i])});
    else
      pb.poison.push_back(undecodable(
        recs[i], poison[i].empty() ? "unknown exception" : poison[i]));
  }
  return pb;
}

// Waits for every call of `pb` (they may still be running: a batch that
// is given up must not overlap the replay that follows).
void subscription::impl::drain(pending_batch& pb) {
  for (auto& c : pb.calls)
    (void)c.wait();
}

// False when the batch is not settled (consume it again).
bool subscription::impl::settle(pending_batch& pb) {
  std::uint64_t applied = 0;
  for (auto& c : pb.calls) {
    auto st = c.wait();
    bool lettered = false; // by a decoder that threw on a retry
    // A throwing method is retried under a new key ("#N"), so a replay
    // after a crash meets the same logged outcomes attempt by attempt.
    for (int attempt = 2; st == errc::failed && attempt <= delivery.attempts
                          && !stopping;
         ++attempt) {
      record_delivery::waiter w;
      if (!start_call(c.r, attempt, w, pb.poison)) {
        lettered = true;
        break;
      }
      st = w();
    }
    if (lettered) {
      // nop
    } else if (st.is_ok()) {
      ++applied;
    } else if (transient(st) || stopping) {
      set_error(fmt::format("kafka subscription '{}': call of {}/{} "
                            "failed: {}",
                            src.topic, c.r.partition, c.r.offset,
                            st.to_string()));
      drain(pb);
      return false;
    } else {
      pb.poison.push_back({c.r.topic, c.r.partition, c.r.offset, c.r.key,
                           c.r.value, dl_reason_of(st), {}});
    }
  }
  eventlog::write_batch b;
  add_consumed(b, src, pb.poison, pb.next);
  if (!confirm_offsets()) // the batch before's, if still in flight
    return false;
  // Not awaited here: the next batch is consumed and started meanwhile;
  // confirm_offsets() waits for it before the one after is started.
  offsets = pending_offsets{eng->event_log()->submit(std::move(b)),
                            pb.records, pb.poison.size(), applied,
                            std::move(pb.next)};
  return true;
}

// Waits for the offsets commit in flight, if any; false when it failed
// (consume again from the stored offsets).
bool subscription::impl::confirm_offsets() {
  if (!offsets)
    return true;
  auto o = std::move(*offsets);
  offsets.reset();
  if (auto res = o.commit.get(); !res) {
    set_error(fmt::format("kafka subscription '{}': cannot commit: {}",
                          src.topic, res.error().to_string()));
    return false;
  }
  records += o.records;
  dead += o.dead;
  started += o.applied;
  ++commits;
  commit_to_broker(o.next);
  return true;
}

std::size_t subscription::impl::hot_key_limit() const {
  constexpr std::size_t key_window = 1024;
  return std::max<std::size_t>(
    1, key_window / (2 * static_cast<std::size_t>(delivery.attempts)));
}

bool subscription::impl::hot_key(const rd_kafka_message_t* m) {
  std::string key;
  if (m->key)
    key.assign(static_cast<const char*>(m->key), m->key_len);
  return ++per_key[std::move(key)] >= hot_key_limit();
}

// Settles the batch in flight, if any; false when it could not.
bool subscription::impl::settle_in_flight() {
  if (!in_flight)
    return true;
  auto pb = std::move(*in_flight);
  in_flight.reset();
  return settle(pb);
}

// deliver_to's commit(): starts `msgs`, then settles the batch before.
// The offsets of the batch before that are durable first, so at most two
// batches are applied beyond the stored offsets.
bool subscription::impl::deliver(std::vector<rd_kafka_message_t*>& msgs) {
  if (!confirm_offsets()) {
    if (in_flight)
      drain(*in_flight);
    in_flight.reset();
    return false;
  }
  auto pb = issue(msgs);
  if (!settle_in_flight()) {
    drain(pb);
    return false;
  }
  in_flight = std::move(pb);
  return true;
}

} // namespace perdure
