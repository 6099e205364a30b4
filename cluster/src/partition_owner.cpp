// SPDX-License-Identifier: Apache-2.0
#include "perdure/cluster/partition_owner.hpp"

#include <fmt/format.h>
#include <mutex>
#include <utility>
#include <vector>

namespace perdure::cluster {

struct partition_owner::ack {
  bool claim = false;
  std::uint64_t sequence = 0;
  bool ok = false;
};

// Acks arrive on the log's threads, possibly after the owner is gone (a
// crashed node's append still lands): they only post here.
struct partition_owner::inbox {
  std::mutex mutex;
  std::vector<ack> acks;

  void post(ack a) {
    std::lock_guard guard{mutex};
    acks.push_back(a);
  }

  std::vector<ack> take() {
    std::lock_guard guard{mutex};
    return std::exchange(acks, {});
  }
};

std::string_view to_string(owner_role r) noexcept {
  switch (r) {
  case owner_role::follower:
    return "follower";
  case owner_role::catching_up:
    return "catching_up";
  case owner_role::claiming:
    return "claiming";
  case owner_role::leader:
    return "leader";
  }
  return "unknown";
}

partition_owner::partition_owner(partition_log& log, replica_store& store,
                                 owner_options options)
    : log_(log)
    , options_(std::move(options))
    , replica_(log, store)
    , inbox_(std::make_shared<inbox>()) {}

partition_owner::~partition_owner() {
  release();
}

status partition_owner::open() {
  auto& node = options_.self.node;
  if (node.empty() || node.size() > max_node_id_size)
    return status{errc::invalid_argument,
                  fmt::format("node id must be 1 to {} bytes (got {})",
                              max_node_id_size, node.size())};
  return replica_.open();
}

// busy, not conflict: the group was not applied and never will be, but
// the same write may be made again on the partition's owner (a request
// tried again by its key or id). Callers take conflict as an answer about
// what they wrote (a workflow ended, an id taken) and do not try again.
status partition_owner::not_owner_error(log_offset written_under) const {
  auto& s = replica_.view();
  auto group = written_under == no_epoch
                   ? std::string{}
                   : fmt::format("; a group written under epoch {} is not "
                                 "applied",
                                 written_under);
  if (s.epoch == no_epoch)
    return status{errc::busy, fmt::format("partition {} has no owner yet{}",
                                          options_.partition, group)};
  return status{errc::busy,
                fmt::format("partition {} is owned by node {} (incarnation "
                            "{}) since epoch {}{}",
                            options_.partition, s.owner.node,
                            s.owner.incarnation, s.epoch, group)};
}

void partition_owner::claim() {
  only_over_.reset();
  wanted_ = true;
  if (role_ == owner_role::follower) {
    role_ = owner_role::catching_up;
    catch_up_to_ = -1;
  }
}

void partition_owner::claim(log_offset over) {
  if (role_ != owner_role::follower)
    return; // already claiming (perhaps unconditionally) or leading
  claim();
  only_over_ = over;
}

void partition_owner::release() {
  only_over_.reset();
  wanted_ = false;
  role_ = owner_role::follower;
  for (auto& [seq, p] : pending_)
    tell(std::move(p.done),
         status{errc::closed,
                fmt::format("partition {}: released before group {} was "
                            "read back; it may still take effect",
                            options_.partition, seq)});
  pending_.clear();
  run_completions();
}

void partition_owner::tell(group_done done, result<log_offset> r) {
  if (done && r)
    ++counters_.groups_effective;
  else if (done && r.error() != errc::closed)
    ++counters_.groups_failed;
  if (done)
    completions_.emplace_back(std::move(done), std::move(r));
}

void partition_owner::run_completions() {
  // Callers run last, when the owner's state is consistent: a callback may
  // submit, claim or release.
  while (!completions_.empty()) {
    auto batch = std::exchange(completions_, {});
    for (auto& [fn, res] : batch)
      fn(std::move(res));
  }
}

void partition_owner::append_claim() {
  ++counters_.claims_appended;
  std::weak_ptr<inbox> box = inbox_;
  log_.append(encode(claim_entry{options_.self, options_.endpoint}), [box](result<log_offset> r) {
    if (auto b = box.lock())
      b->post({true, 0, r.has_value()});
  });
}

void partition_owner::append_group(std::string bytes, group_done done) {
  auto seq = next_sequence_++;
  auto epoch = replica_.state().epoch;
  pending_.emplace(seq, pending_group{epoch, std::move(done)});
  std::weak_ptr<inbox> box = inbox_;
  log_.append(encode(group_entry{epoch, options_.self, seq, std::move(bytes)}),
              [box, seq](result<log_offset> r) {
                if (auto b = box.lock())
                  b->post({false, seq, r.has_value()});
              });
}

void partition_owner::submit(std::string bytes, group_done done) {
  if (bytes.empty()) {
    done(status{errc::invalid_argument,
                "a group needs bytes (empty groups are barriers)"});
    return;
  }
  if (role_ != owner_role::leader) {
    done(not_owner_error(no_epoch));
    return;
  }
  append_group(std::move(bytes), std::move(done));
}

void partition_owner::handle_acks() {
  // A failed ack does not decide anything: the record may still land. A
  // claim or barrier appended after it does: once read back, the record
  // either came first or can never take effect.
  for (auto& a : inbox_->take()) {
    if (a.ok)
      continue;
    if (a.claim) {
      if (role_ == owner_role::claiming)
        append_claim();
    } else if (role_ == owner_role::leader && pending_.count(a.sequence) &&
               pending_.rbegin()->first == a.sequence) {
      ++counters_.barriers_appended;
      append_group({}, {});
    }
  }
}

void partition_owner::fail_pending_below(std::uint64_t sequence,
                                         const status& why) {
  for (auto it = pending_.begin();
       it != pending_.end() && it->first < sequence;) {
    tell(std::move(it->second.done), why);
    it = pending_.erase(it);
  }
}

void partition_owner::on_claim(const judged_record& j) {
  // Every group still pending was written under an older epoch: once this
  // claim is in the log before it, it can never take effect.
  for (auto& [seq, p] : pending_)
    tell(std::move(p.done), not_owner_error(p.epoch));
  pending_.clear();
  if (j.who == options_.self) {
    if (wanted_ && role_ != owner_role::leader)
      ++counters_.led;
    role_ = wanted_ ? owner_role::leader : owner_role::follower;
  } else if (role_ == owner_role::leader) {
    ++counters_.fenced;
    role_ = owner_role::follower;
    wanted_ = false;
  }
}

void partition_owner::on_own_group(const judged_record& j) {
  auto it = pending_.find(j.sequence);
  if (j.decision == verdict::effective) {
    fail_pending_below(
        j.sequence,
        status{errc::io,
               fmt::format("partition {}: a later group ({}) took effect "
                           "first; the log lost or reordered this one",
                           options_.partition, j.sequence)});
    it = pending_.find(j.sequence);
    if (it != pending_.end()) {
      tell(std::move(it->second.done), j.offset);
      pending_.erase(it);
    }
    return;
  }
  if (it == pending_.end())
    return;
  auto done = std::move(it->second.done);
  auto epoch = it->second.epoch;
  pending_.erase(it);
  if (j.decision == verdict::duplicate)
    tell(std::move(done),
         status{errc::io,
                fmt::format("partition {}: group {} landed after a later "
                            "group took effect; not applied",
                            options_.partition, j.sequence)});
  else
    tell(std::move(done), not_owner_error(epoch));
}

result<std::size_t> partition_owner::poll(std::chrono::milliseconds wait) {
  // Only a follower that is no standby may skip applying: every other role
  // needs the store at the log's end (to claim, to serve).
  replica_.set_applying(standby_ || role_ != owner_role::follower);
  if (role_ == owner_role::catching_up && catch_up_to_ < 0) {
    auto end = log_.end_offset(wait);
    if (!end)
      return end.error();
    catch_up_to_ = *end;
  }
  // Caught up already (a standby tails the log): nothing to wait for, so
  // a claim costs no read wait (node::round polls every partition in turn).
  auto read_wait = role_ == owner_role::catching_up
                           && replica_.state().next >= catch_up_to_
                       ? std::chrono::milliseconds{0}
                       : wait;
  auto judged = replica_.poll(read_wait, options_.read_batch);
  if (!judged)
    return judged.error();
  // Groups are decided only now: the replica applied what it read.
  for (auto& j : *judged) {
    if (j.replayed)
      continue; // acted on when it was first judged
    if (j.kind == entry_kind::claim)
      on_claim(j);
    else if (j.who == options_.self)
      on_own_group(j);
  }
  // After reading: a record whose ack was lost but which landed is read
  // back by now and needs no barrier.
  handle_acks();
  // Caught up: read to the end offset seen at claim(), or a read found
  // nothing more (an end offset past the last readable record, as Kafka's
  // can be, must not stall the claim). Claiming early is safe, only
  // slower: the claimant applies everything before its claim anyway.
  if (role_ == owner_role::catching_up && catch_up_to_ >= 0 &&
      (replica_.state().next >= catch_up_to_ || judged->empty())) {
    if (only_over_ && *only_over_ != replica_.view().epoch) {
      // The claim to replace was replaced already: nothing to take over.
      ++counters_.claims_dropped;
      only_over_.reset();
      wanted_ = false;
      role_ = owner_role::follower;
    } else {
      only_over_.reset();
      role_ = owner_role::claiming;
      append_claim();
    }
  }
  run_completions();
  return judged->size();
}

} // namespace perdure::cluster
