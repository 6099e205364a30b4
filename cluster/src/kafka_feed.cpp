// SPDX-License-Identifier: Apache-2.0
// A Kafka feed on a cluster node (kafka_feed.hpp): one consumer thread in
// the feed's consumer group; each batch's records become actions, sent
// through the engine_host per target in record order (targets
// concurrently), then the batch's dead letters are produced and its
// offsets committed to the group. The targets are in kafka_feed_targets.cpp.

#include "perdure/cluster/kafka_feed.hpp"

#include "kafka_feed_impl.hpp"
#include "perdure/runtime/errors.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <thread>
#include <unordered_map>

namespace perdure::cluster {

namespace {

using eventlog::log_level;

// An owner's answer that another try would not change: the record goes to
// the dead-letter topic. Everything else (busy, timeout, closed, io, full,
// corruption, permission) is the owner's state, not the record's: tried
// again.
bool permanent(const perdure::status& st) {
  switch (st.code()) {
  case errc::not_found:
  case errc::conflict:
  case errc::invalid_argument:
  case errc::type_mismatch:
  case errc::unsupported:
  case errc::canceled:
  case errc::failed:
    return true;
  default:
    return false;
  }
}

std::string source_of(const kafka_record& r) {
  return fmt::format("{}/{}/{}", r.topic, r.partition, r.offset);
}

} // namespace

// -- one batch ----------------------------------------------------------------

// A conflict because this host cannot forward (no door) to the node that
// leads the target: the record waits for the partition to come here, it
// is not poison.
bool feed::impl::unreachable(const std::string& target,
                             const perdure::status& st) const {
  return st == errc::conflict && !host->door_port() &&
         !host->engine_of(host->routing().partition_of(target));
}

void feed::impl::report(log_level level, const std::string& what) {
  if (level >= log_level::warning) {
    std::lock_guard guard{mu};
    error = what;
  }
  eventlog::emit(o.log, level,
                 fmt::format("feed {}/{}: {}", src.group, src.topic, what));
}

bool feed::impl::pause(std::chrono::milliseconds wait) {
  auto until = std::chrono::steady_clock::now() + wait;
  while (!stopping && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds{20}));
  return !stopping;
}

// Sends one item's action until its owner answers, trying a failed one
// again under its next key; false when the feed stops first.
bool feed::impl::send(item& it) {
  int attempt = 1;
  for (;;) {
    if (stopping)
      return false;
    // Evicted from the group (this process was paused or cut off past the
    // session timeout): the partition has another consumer, which sends
    // this batch again from the group's offsets. Sending on would race it
    // with keys it may have left behind; the batch is dropped, and the
    // next assignment starts from the group's offsets.
    if (rd_kafka_assignment_lost(consumer)) {
      report(log_level::info,
             fmt::format("assignment lost: the batch of record {} is left "
                         "to the partition's next consumer",
                         source_of(it.record)));
      return false;
    }
    perdure::status st;
    try {
      st = it.action.send(*host,
                          target.sequenced
                              ? sequenced_feed_key(src, it.record, attempt)
                              : feed_key(src, it.record, attempt));
    } catch (const std::exception& e) {
      st = {errc::failed, fmt::format("the feed's action threw: {}", e.what())};
    } catch (...) {
      st = {errc::failed, "the feed's action threw an unknown exception"};
    }
    if (st) {
      ++started;
      return true;
    }
    if (st.code() == errc::failed && attempt < target.attempts) {
      ++attempt;
      continue;
    }
    if (permanent(st) && !unreachable(it.action.target, st)) {
      it.poison = st.to_string();
      return true;
    }
    report(log_level::warning,
           fmt::format("record {} to '{}' not answered, tried again in {} ms: "
                       "{}",
                       source_of(it.record), it.action.target,
                       o.retry_wait.count(), st.to_string()));
    if (!pause(o.retry_wait))
      return false;
  }
}

// Sends every action, those of one target in order, targets at once on up
// to `concurrency` threads; false when the feed stopped before all were
// answered.
bool feed::impl::send_all(std::vector<item>& items) {
  std::vector<std::vector<item*>> groups;
  std::unordered_map<std::string_view, std::size_t> group_of;
  for (auto& it : items) {
    if (!it.poison.empty())
      continue;
    auto [at, added] = group_of.try_emplace(it.action.target, groups.size());
    if (added)
      groups.emplace_back();
    groups[at->second].push_back(&it);
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> complete{true};
  auto work = [&] {
    for (auto g = next++; g < groups.size(); g = next++)
      for (auto* it : groups[g])
        if (!send(*it)) {
          complete = false;
          return;
        }
  };
  auto threads = std::min(o.concurrency, groups.size());
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::jthread> pool;
    pool.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i)
      pool.emplace_back(work);
  }
  return complete;
}

// One batch: actions made, sent, dead letters produced, offsets committed.
void feed::impl::process(std::vector<item>& items) {
  for (auto& it : items) {
    try {
      it.action = target.make(it.record);
      if (!it.action.send)
        it.poison = "the feed's target made no action";
    } catch (const std::exception& e) {
      it.poison = fmt::format("undecodable: {}", e.what());
    } catch (...) {
      it.poison = "undecodable: unknown exception";
    }
  }
  if (!send_all(items))
    return; // stopping: nothing committed, the next owner sends them again
  std::vector<const item*> dead;
  std::map<std::int32_t, std::int64_t> next;
  for (auto& it : items) {
    if (!it.poison.empty())
      dead.push_back(&it);
    auto& n = next[it.record.partition];
    n = std::max(n, it.record.offset + 1);
  }
  if (!dead.empty() && !produce_dead_letters(dead))
    return;
  commit(next, items.size());
}

void feed::impl::commit(const std::map<std::int32_t, std::int64_t>& next,
                        std::size_t count) {
  auto list = rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
  for (auto& [p, off] : next)
    rd_kafka_topic_partition_list_add(list, src.topic.c_str(), p)->offset = off;
  auto err = rd_kafka_commit(consumer, list, 0);
  rd_kafka_topic_partition_list_destroy(list);
  if (err) {
    // Revoked meanwhile (a rebalance): the partition's next consumer sends
    // the batch again from the group's last offsets; the keys make it once.
    report(log_level::info,
           fmt::format("offsets of {} records not committed ({}): sent "
                       "again by the partitions' next consumer",
                       count, rd_kafka_err2str(err)));
    return;
  }
  records += count;
  ++commits;
}

// -- the consumer loop
// ----------------------------------------------------------

// Up to max_batch records: waits for the first (in short polls, to see a
// stop), then takes what comes within poll_timeout of each other. A batch
// ends early at hot_key_limit records of one Kafka key (one actor for
// actor_target): a batch sent again after a crash must find every key of
// its calls among the actor's last key_window (1024) calls, and each
// record may use `attempts` keys.
std::vector<feed::impl::item> feed::impl::take_batch() {
  std::vector<item> out;
  std::unordered_map<std::string, std::size_t> per_key;
  auto hot_key_limit = std::max<std::size_t>(
      1, 1024 / (2 * static_cast<std::size_t>(target.attempts)));
  while (!stopping && out.size() < src.max_batch) {
    auto wait = out.empty() ? 100 : static_cast<int>(src.poll_timeout.count());
    auto* m = rd_kafka_consumer_poll(consumer, wait);
    if (!m) {
      if (out.empty())
        continue;
      break;
    }
    bool hot = false;
    if (!m->err) {
      out.push_back({detail::to_kafka_record(m), {}, {}});
      hot = ++per_key[out.back().record.key] >= hot_key_limit;
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      report(log_level::warning,
             fmt::format("consumer: {}", rd_kafka_message_errstr(m)));
    }
    rd_kafka_message_destroy(m);
    if (hot)
      break;
  }
  return out;
}

void feed::impl::run() {
  auto topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, src.topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  auto err = rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err) {
    report(log_level::error,
           fmt::format("subscribe: {}", rd_kafka_err2str(err)));
    return;
  }
  while (!stopping) {
    refresh_parts();
    auto batch = take_batch();
    if (!batch.empty())
      process(batch);
  }
}

void feed::impl::stop() {
  std::call_once(stopped, [&] {
    stopping = true;
    if (thread.joinable())
      thread.join();
    for (auto id : metric_ids) // they read the consumer: gone before it is
      host->metrics().remove_callback(id);
    if (consumer) {
      rd_kafka_consumer_close(consumer); // leaves the group
      std::lock_guard guard{mu};         // assigned() reads it
      rd_kafka_destroy(consumer);
      consumer = nullptr;
    }
    if (producer) {
      // Each batch's dead letters were flushed before its commit: what is
      // left belongs to an uncommitted batch, produced again by the next
      // consumer.
      rd_kafka_purge(producer,
                     RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_flush(producer, 1000);
      rd_kafka_destroy(producer);
      producer = nullptr;
    }
  });
}

// -- the public face
// ------------------------------------------------------------

feed::feed(std::unique_ptr<impl> p)
    : impl_(std::move(p)) {}

feed::~feed() {
  stop();
}

void feed::stop() {
  impl_->stop();
}

subscription_stats feed::stats() const {
  return {impl_->records.load(), impl_->started.load(), impl_->dead.load(),
          impl_->commits.load()};
}

std::string feed::last_error() const {
  std::lock_guard guard{impl_->mu};
  return impl_->error;
}

std::vector<std::int32_t> feed::assigned() const {
  std::vector<std::int32_t> out;
  std::lock_guard guard{impl_->mu};
  if (impl_->consumer)
    out = impl_->assignment();
  return out;
}

std::string dead_letter_topic(const kafka_source& src, const feed_options& o) {
  return o.dead_letter_topic.empty() ? src.topic + ".dead-letter"
                                     : o.dead_letter_topic;
}

result<std::unique_ptr<feed>> subscribe(engine_host& host, kafka_source src,
                                        feed_target target, feed_options o) {
  if (auto st = check(src); !st)
    return unexpected{std::move(st)};
  if (!target.make)
    return unexpected{errc::invalid_argument, "feed: the target is empty"};
  if (target.attempts < 1)
    return unexpected{errc::invalid_argument, "feed: attempts is below 1"};
  if (o.concurrency < 1)
    return unexpected{errc::invalid_argument, "feed: concurrency is 0"};
  auto p = std::make_unique<feed::impl>();
  p->host = &host;
  p->dlq = dead_letter_topic(src, o);
  p->src = std::move(src);
  p->target = std::move(target);
  p->o = std::move(o);
  try {
    p->consumer = detail::new_kafka_consumer(p->src, p->o.log);
    p->producer = detail::new_kafka_producer(
        p->src.brokers, producer_properties(p->src.properties), p->o.log,
        &feed::impl::delivered);
  } catch (const error& e) {
    p->stop();
    return unexpected{e.as_status()};
  }
  p->add_metrics();
  auto* raw = p.get();
  p->thread = std::thread{[raw] {
    eventlog::set_thread_name("perdure-feed");
    raw->run();
  }};
  return std::make_unique<feed>(std::move(p));
}

} // namespace perdure::cluster
