// SPDX-License-Identifier: Apache-2.0
// Kafka subscriptions on librdkafka (C API): the consumer loop (deliver_to's
// actor calls are in kafka_delivery.cpp). One consumer thread per
// subscription: it assigns the topic's partitions at the offsets stored in
// the log, takes up to max_batch records, and commits their workflow
// submissions, dead letters and the next offsets in ONE write_batch through
// engine::submit_batch. Only after that commit is durable does it consume
// further; the broker-side commit that follows is advisory.

#include "perdure/listeners/kafka.hpp"

#include "kafka_subscription.hpp"

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/kafka.hpp"
#include "perdure/runtime/errors.hpp"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <fmt/format.h>
#include <future>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <thread>
#include <unordered_map>

namespace perdure {

using eventlog::record_kind;
using detail::dl_reason_of;
using detail::undecodable;

std::string offset_key(const kafka_source& src, std::int32_t partition) {
  return kafka_records::offset_key(src.group, src.topic, partition);
}

std::string delivery_key(const kafka_source& src, const kafka_record& r,
                         int attempt) {
  return kafka_records::delivery_id(src.group, r.topic, r.partition,
                                    r.offset, attempt);
}

std::string dead_letter_stream(const kafka_source& src) {
  return kafka_records::dead_letter_stream(src.group, src.topic);
}

void detail::add_consumed(eventlog::write_batch& b, const kafka_source& src,
                          const std::vector<dead_letter>& poison,
                          const std::map<std::int32_t, std::int64_t>& next) {
  auto stream = dead_letter_stream(src);
  if (!poison.empty())
    b.create(stream, eventlog::stream_kind::dead_letter);
  for (auto& d : poison)
    b.append(stream, eventlog::to_u16(record_kind::dead_letter),
             codec::encode(d));
  for (auto& [p, off] : next)
    b.put_offset(offset_key(src, p), off);
}

status check(const kafka_source& src) {
  if (src.brokers.empty())
    return {errc::invalid_argument, "kafka_source: brokers is empty"};
  if (src.topic.empty())
    return {errc::invalid_argument, "kafka_source: topic is empty"};
  if (src.group.empty())
    return {errc::invalid_argument, "kafka_source: group is empty"};
  if (src.max_batch == 0)
    return {errc::invalid_argument, "kafka_source: max_batch is 0"};
  auto conf = rd_kafka_conf_new();
  auto st = detail::set_kafka_properties(conf, src.properties);
  rd_kafka_conf_destroy(conf);
  return st;
}

status check_loggable(const kafka_source& src) {
  for (auto& [k, v] : src.properties)
    if (detail::is_secret_property(k) && !v.starts_with(env_prefix))
      return {errc::invalid_argument,
              fmt::format("kafka property '{}' of a wait_for_event source "
                          "would be stored in the workflow's log; pass "
                          "\"{}VARIABLE\" to read it from the environment",
                          k, env_prefix)};
  return {};
}

result<std::vector<dead_letter>> dead_letters(const engine& eng,
                                              const kafka_source& src) {
  std::vector<dead_letter> out;
  auto recs = eng.event_log()->read(dead_letter_stream(src));
  if (!recs) {
    if (recs.error() == errc::not_found)
      return out;
    return std::move(recs).error();
  }
  for (auto& r : *recs) {
    auto d = codec::decode<dead_letter>(r.payload);
    if (!d)
      return std::move(d).error();
    out.push_back(std::move(*d));
  }
  return out;
}

// -- the subscription ---------------------------------------------------------

void subscription::impl::stop() {
  std::call_once(stopped, [&] {
    stopping = true;
    if (thread.joinable())
      thread.join();
    if (lag_metric) // it reads rk: gone before rk is
      eng->metrics().remove_callback(lag_metric);
    if (rk) {
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
      rk = nullptr;
    }
  });
}

// The topic's partitions (the topic may not exist yet: retried).
std::vector<std::int32_t> subscription::impl::partitions() {
  while (!stopping) {
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, src.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(rk, 0, t, &md, 2000);
    std::vector<std::int32_t> out;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1
        && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < md->topics[0].partition_cnt; ++i)
        out.push_back(md->topics[0].partitions[i].id);
    } else {
      set_error(fmt::format(
        "kafka metadata of topic '{}': {}", src.topic,
        rd_kafka_err2str(err ? err : md ? md->topics[0].err : err)));
    }
    if (md)
      rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    if (!out.empty())
      return out;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  return {};
}

// /metrics: per partition, the high watermark librdkafka last fetched
// minus the next offset stored in the log (consumed exactly once). Read
// at scrape time from local state, no broker round trip.
void subscription::impl::report_lag(const std::vector<std::int32_t>& parts) {
  lag_metric = eng->metrics().add_callback(
    "perdure_kafka_consumer_lag",
    "Records of a subscribed Kafka partition not yet consumed into the "
    "log: the high watermark minus the stored offset.",
    metrics::kind::gauge, [this, parts] {
      std::vector<metrics::sample> out;
      for (auto p : parts) {
        std::int64_t low = 0, high = 0;
        if (rd_kafka_get_watermark_offsets(rk, src.topic.c_str(), p, &low,
                                           &high)
              != RD_KAFKA_RESP_ERR_NO_ERROR
            || high < 0)
          continue; // nothing fetched yet
        auto off = eng->event_log()->offset(offset_key(src, p));
        if (!off)
          continue;
        auto next = off->value_or(std::max<std::int64_t>(low, 0));
        out.push_back({{{"group", src.group},
                        {"topic", src.topic},
                        {"partition", std::to_string(p)}},
                       static_cast<double>(std::max<std::int64_t>(
                         0, high - next))});
      }
      return out;
    });
}

// Assigns every partition at its stored offset (the log is the truth).
bool subscription::impl::assign(const std::vector<std::int32_t>& parts) {
  auto list = rd_kafka_topic_partition_list_new(
    static_cast<int>(parts.size()));
  for (auto p : parts) {
    auto off = eng->event_log()->offset(offset_key(src, p));
    if (!off) {
      set_error(off.error().to_string());
      rd_kafka_topic_partition_list_destroy(list);
      return false;
    }
    rd_kafka_topic_partition_list_add(list, src.topic.c_str(), p)->offset =
      off->value_or(RD_KAFKA_OFFSET_BEGINNING);
  }
  auto err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err) {
    set_error(fmt::format("kafka assign: {}", rd_kafka_err2str(err)));
    return false;
  }
  return true;
}

std::function<void(const perdure::status&)>
subscription::impl::dead_letter_on_failure(const kafka_record& r,
                                           const std::string& wf) {
  std::weak_ptr<impl> self = shared_from_this();
  auto log = std::weak_ptr<eventlog::event_log>{eng->event_log()};
  return [self, log, wf, src = src,
          d = dead_letter{r.topic, r.partition, r.offset, r.key, r.value, {},
                          wf}](const perdure::status& st) mutable {
    if (st.is_ok() || st != errc::failed)
      return;
    auto l = log.lock();
    if (!l)
      return;
    d.reason = dl_reason_of(st);
    eventlog::write_batch b;
    detail::add_consumed(b, src, {d});
    l->submit(std::move(b), [](result<eventlog::commit_info>) {});
    if (auto s = self.lock())
      ++s->dead;
  };
}

// Tells the broker the next offsets too (advisory: monitoring tools
// read it).
void subscription::impl::commit_to_broker(
  const std::map<std::int32_t, std::int64_t>& next) {
  auto list = rd_kafka_topic_partition_list_new(
    static_cast<int>(next.size()));
  for (auto& [p, off] : next)
    rd_kafka_topic_partition_list_add(list, src.topic.c_str(), p)->offset =
      off;
  rd_kafka_commit(rk, list, 1);
  rd_kafka_topic_partition_list_destroy(list);
}

// Commits one batch of consumed records; false when it could not.
bool subscription::impl::commit(std::vector<rd_kafka_message_t*>& msgs) {
  if (to_actors)
    return deliver(msgs);
  if (signals.make)
    return commit_signals(msgs);
  std::vector<new_run> runs;
  std::vector<dead_letter> poison;
  std::map<std::int32_t, std::int64_t> next;
  for (auto* m : msgs) {
    auto r = detail::to_kafka_record(m);
    next[r.partition] = std::max(next[r.partition], r.offset + 1);
    auto id = fmt::format("kafka/{}/{}/{}/{}", src.group, r.topic,
                          r.partition, r.offset);
    try {
      auto root = target.make(r);
      auto on_end = dead_letter_on_failure(r, id);
      runs.push_back({std::move(root), id, {}, std::move(on_end)});
    } catch (const std::exception& e) {
      poison.push_back(undecodable(r, e.what()));
    } catch (...) {
      poison.push_back(undecodable(r, "unknown exception"));
    }
  }
  auto res = eng->submit_batch(std::move(runs), [&](eventlog::write_batch& b) {
    detail::add_consumed(b, src, poison, next);
  });
  if (!res) {
    set_error(fmt::format("kafka subscription '{}': cannot commit: {}",
                          src.topic, res.error().to_string()));
    return false;
  }
  records += msgs.size();
  dead += poison.size();
  ++commits;
  for (bool b : *res)
    started += b ? 1 : 0;
  commit_to_broker(next);
  return true;
}

// The next message (or error, or null after `timeout_ms`). Takes what
// librdkafka has queued in one call without waiting (a batch call with a
// timeout would wait to fill the batch); waits only when it has none.
rd_kafka_message_t* subscription::impl::next_message(int timeout_ms) {
  if (fetched_at == fetched.size()) {
    fetched.resize(fetch_batch);
    auto n = rd_kafka_consume_batch_queue(queue, 0, fetched.data(),
                                          fetch_batch);
    fetched.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    fetched_at = 0;
    if (fetched.empty())
      return rd_kafka_consume_queue(queue, timeout_ms);
  }
  return fetched[fetched_at++];
}

// Drops fetched messages not consumed (before a re-assign).
void subscription::impl::drop_fetched() {
  for (; fetched_at < fetched.size(); ++fetched_at)
    rd_kafka_message_destroy(fetched[fetched_at]);
  fetched.clear();
  fetched_at = 0;
}

void subscription::impl::run() {
  pthread_setname_np(pthread_self(), "perdure-kafka"); // for profilers
  queue = rd_kafka_queue_get_consumer(rk);
  struct queue_guard {
    rd_kafka_queue_t*& q;
    ~queue_guard() {
      rd_kafka_queue_destroy(q);
      q = nullptr;
    }
  } guard{queue};
  auto parts = partitions();
  if (stopping || !assign(parts))
    return;
  report_lag(parts);
  std::vector<rd_kafka_message_t*> msgs;
  auto release = [&] {
    for (auto* m : msgs)
      rd_kafka_message_destroy(m);
    msgs.clear();
  };
  auto give_up = [&] {
    // Nothing after the stored offsets is settled: consume it again.
    (void)confirm_offsets();
    release();
    drop_fetched();
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    return stopping || !assign(parts);
  };
  while (!stopping) {
    auto wait = static_cast<int>(src.poll_timeout.count());
    // A started batch is settled as soon as no more records come.
    auto* m = next_message(
      msgs.empty() ? (in_flight || offsets ? wait : 100) : wait);
    if (!m && msgs.empty() && (in_flight || offsets)
        && !(settle_in_flight() && confirm_offsets())) {
      if (give_up())
        return;
      continue;
    }
    if (m && m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        set_error(fmt::format("kafka consume: {}",
                              rd_kafka_message_errstr(m)));
      rd_kafka_message_destroy(m);
      m = nullptr;
      if (msgs.empty())
        continue;
    }
    bool hot = false;
    if (m) {
      msgs.push_back(m);
      hot = to_actors && hot_key(m);
    }
    if (msgs.empty() || (m && msgs.size() < src.max_batch && !hot))
      continue;
    per_key.clear();
    if (!commit(msgs)) {
      if (give_up())
        return;
      continue;
    }
    release();
  }
  release();
  drop_fetched();
  // Calls started and durable may still have their offsets committed.
  if (in_flight)
    (void)settle_in_flight();
  (void)confirm_offsets();
}


subscription_stats subscription::stats() const {
  return {impl_->records.load(), impl_->started.load(), impl_->dead.load(),
          impl_->commits.load()};
}

std::string subscription::last_error() const {
  std::lock_guard guard{impl_->mu};
  return impl_->error;
}

void subscription::stop() {
  impl_->stop();
}

namespace {

subscription start_subscription(engine& eng, const kafka_source& src,
                                std::shared_ptr<subscription::impl> p) {
  ok_or_throw(check(src));
  p->eng = &eng;
  p->src = src;
  p->log = eng.options().log;
  p->rk = detail::new_kafka_consumer(src, p->log);
  p->thread = std::thread{[raw = p.get()] { raw->run(); }};
  eng.attach(p);
  return subscription{std::move(p)};
}

} // namespace

subscription perdure_subscribe(engine& eng, const kafka_source& src,
                               record_workflow target) {
  auto p = std::make_shared<subscription::impl>();
  p->target = std::move(target);
  return start_subscription(eng, src, std::move(p));
}

subscription perdure_subscribe(engine& eng, const kafka_source& src,
                               record_delivery target) {
  if (!target.start)
    ok_or_throw(status{errc::invalid_argument,
                       "deliver_to: the delivery has no target"});
  if (target.attempts < 1)
    ok_or_throw(status{errc::invalid_argument,
                       fmt::format("deliver_to: attempts is {}, at least 1",
                                   target.attempts)});
  auto p = std::make_shared<subscription::impl>();
  p->delivery = std::move(target);
  p->to_actors = true;
  return start_subscription(eng, src, std::move(p));
}

subscription perdure_subscribe(engine& eng, const kafka_source& src,
                               record_signal target) {
  if (!target.make)
    ok_or_throw(status{errc::invalid_argument,
                       "signal_workflows: the target has no decoder"});
  auto p = std::make_shared<subscription::impl>();
  p->signals = std::move(target);
  return start_subscription(eng, src, std::move(p));
}

} // namespace perdure
