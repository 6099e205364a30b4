// Kafka subscriptions on librdkafka (C API). One consumer thread per
// subscription: it assigns the topic's partitions at the offsets stored in
// the log, takes up to max_batch records, and commits their workflow
// submissions, dead letters and the next offsets in ONE write_batch through
// engine::submit_batch. Only after that commit is durable does it consume
// further; the broker-side commit that follows is advisory.

#include "perdure/listeners/kafka.hpp"

#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/runtime/errors.hpp"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <fmt/format.h>
#include <mutex>
#include <thread>

namespace perdure {

namespace {

using eventlog::record_kind;

std::string dl_reason_of(const status& st) {
  return st.to_string();
}

// Applies `props` to `conf`; the first bad one is invalid_argument.
status set_properties(rd_kafka_conf_t* conf,
                      const std::map<std::string, std::string>& props) {
  char err[512];
  for (auto& [k, v] : props)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err)
        != RD_KAFKA_CONF_OK)
      return {errc::invalid_argument,
              fmt::format("kafka property '{}'='{}': {}", k, v, err)};
  return {};
}

} // namespace

std::string offset_key(const kafka_source& src, std::int32_t partition) {
  return fmt::format("kafka/{}/{}/{}", src.group, src.topic, partition);
}

std::string dead_letter_stream(const kafka_source& src) {
  return fmt::format("dead_letter/{}/{}", src.group, src.topic);
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
  auto st = set_properties(conf, src.properties);
  rd_kafka_conf_destroy(conf);
  return st;
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

// -- the subscription --------------------------------------------------------------

struct subscription::impl : engine_service,
                            std::enable_shared_from_this<subscription::impl> {
  engine* eng = nullptr;
  kafka_source src;
  record_workflow target;
  rd_kafka_t* rk = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> records{0}, started{0}, dead{0}, commits{0};
  mutable std::mutex mu;
  std::string error; ///< guarded by mu
  std::once_flag stopped;

  ~impl() override {
    stop();
  }

  void set_error(std::string e) {
    std::lock_guard guard{mu};
    error = std::move(e);
  }

  void stop() override {
    std::call_once(stopped, [&] {
      stopping = true;
      if (thread.joinable())
        thread.join();
      if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        rk = nullptr;
      }
    });
  }

  // The topic's partitions (the topic may not exist yet: retried).
  std::vector<std::int32_t> partitions() {
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

  // Assigns every partition at its stored offset (the log is the truth).
  bool assign(const std::vector<std::int32_t>& parts) {
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

  static kafka_record to_record(const rd_kafka_message_t* m) {
    kafka_record r;
    r.topic = rd_kafka_topic_name(m->rkt);
    r.partition = m->partition;
    r.offset = m->offset;
    rd_kafka_timestamp_type_t tt;
    auto ts = rd_kafka_message_timestamp(m, &tt);
    r.timestamp = ts < 0 ? 0 : ts;
    if (m->key)
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload)
      r.value.assign(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* val;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &val, &size)
           == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i)
        r.headers.emplace_back(
          name, val ? std::string{static_cast<const char*>(val), size}
                    : std::string{});
    }
    return r;
  }

  std::function<void(const perdure::status&)>
  dead_letter_on_failure(const kafka_record& r, const std::string& wf) {
    std::weak_ptr<impl> self = shared_from_this();
    auto log = std::weak_ptr<eventlog::event_log>{eng->event_log()};
    return [self, log, wf, stream = dead_letter_stream(src),
            d = dead_letter{r.topic, r.partition, r.offset, r.key, r.value, {},
                            wf}](const perdure::status& st) mutable {
      if (st.is_ok() || st != errc::failed)
        return;
      auto l = log.lock();
      if (!l)
        return;
      d.reason = dl_reason_of(st);
      eventlog::write_batch b;
      b.create(stream, eventlog::stream_kind::dead_letter);
      b.append(stream, eventlog::to_u16(record_kind::dead_letter),
               codec::encode(d));
      l->submit(std::move(b), [](result<eventlog::commit_info>) {});
      if (auto s = self.lock())
        ++s->dead;
    };
  }

  // Commits one batch of consumed records; false when it could not.
  bool commit(std::vector<rd_kafka_message_t*>& msgs) {
    std::vector<new_run> runs;
    std::vector<dead_letter> poison;
    std::map<std::int32_t, std::int64_t> next;
    for (auto* m : msgs) {
      auto r = to_record(m);
      next[r.partition] = std::max(next[r.partition], r.offset + 1);
      auto id = fmt::format("kafka/{}/{}/{}/{}", src.group, r.topic,
                            r.partition, r.offset);
      try {
        auto root = target.make(r);
        auto on_end = dead_letter_on_failure(r, id);
        runs.push_back({std::move(root), id, {}, std::move(on_end)});
      } catch (const std::exception& e) {
        poison.push_back({r.topic, r.partition, r.offset, r.key, r.value,
                          fmt::format("undecodable: {}", e.what()), {}});
      } catch (...) {
        poison.push_back({r.topic, r.partition, r.offset, r.key, r.value,
                          "undecodable: unknown exception", {}});
      }
    }
    auto stream = dead_letter_stream(src);
    auto res = eng->submit_batch(std::move(runs), [&](eventlog::write_batch& b) {
      if (!poison.empty())
        b.create(stream, eventlog::stream_kind::dead_letter);
      for (auto& d : poison)
        b.append(stream, eventlog::to_u16(record_kind::dead_letter),
                 codec::encode(d));
      for (auto& [p, off] : next)
        b.put_offset(offset_key(src, p), off);
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
    // Advisory: tell the broker too (monitoring tools read it).
    auto list = rd_kafka_topic_partition_list_new(
      static_cast<int>(next.size()));
    for (auto& [p, off] : next)
      rd_kafka_topic_partition_list_add(list, src.topic.c_str(), p)->offset =
        off;
    rd_kafka_commit(rk, list, 1);
    rd_kafka_topic_partition_list_destroy(list);
    return true;
  }

  void run() {
    auto parts = partitions();
    if (stopping || !assign(parts))
      return;
    std::vector<rd_kafka_message_t*> msgs;
    auto release = [&] {
      for (auto* m : msgs)
        rd_kafka_message_destroy(m);
      msgs.clear();
    };
    while (!stopping) {
      auto wait = static_cast<int>(src.poll_timeout.count());
      auto* m = rd_kafka_consumer_poll(rk, msgs.empty() ? 100 : wait);
      if (m && m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          set_error(fmt::format("kafka consume: {}",
                                rd_kafka_message_errstr(m)));
        rd_kafka_message_destroy(m);
        m = nullptr;
        if (msgs.empty())
          continue;
      }
      if (m)
        msgs.push_back(m);
      if (msgs.empty() || (m && msgs.size() < src.max_batch))
        continue;
      if (!commit(msgs)) {
        // Nothing of this batch is durable: consume it again.
        release();
        std::this_thread::sleep_for(std::chrono::milliseconds{200});
        if (stopping || !assign(parts))
          return;
        continue;
      }
      release();
    }
    release();
  }
};

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

subscription perdure_subscribe(engine& eng, const kafka_source& src,
                               record_workflow target) {
  ok_or_throw(check(src));
  auto p = std::make_shared<subscription::impl>();
  p->eng = &eng;
  p->src = src;
  p->target = std::move(target);
  auto conf = rd_kafka_conf_new();
  std::map<std::string, std::string> props{
    {"bootstrap.servers", src.brokers},
    {"group.id", src.group},
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "earliest"},
    {"enable.partition.eof", "false"},
    {"queued.min.messages", "20000"},
    {"fetch.wait.max.ms", "10"},
  };
  for (auto& [k, v] : src.properties)
    props[k] = v;
  if (auto st = set_properties(conf, props); !st) {
    rd_kafka_conf_destroy(conf);
    ok_or_throw(st);
  }
  char err[512];
  p->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!p->rk) {
    rd_kafka_conf_destroy(conf);
    ok_or_throw(status{errc::invalid_argument,
                       fmt::format("kafka consumer: {}", err)});
  }
  rd_kafka_poll_set_consumer(p->rk);
  p->thread = std::thread{[raw = p.get()] { raw->run(); }};
  eng.attach(p);
  return subscription{std::move(p)};
}

} // namespace perdure
