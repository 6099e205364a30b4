// SPDX-License-Identifier: Apache-2.0
// The event source of `wait_for_event<kafka_listener>(source)`. One
// consumer ("channel") per group and topic, on its own thread, hands
// records to the armed waits in FIFO order. Exactly once rests on two
// rules: the event's next offset commits in the same LMDB batch as the
// event (`event_wait::deliver`'s offsets), and a partition has at most one
// record handed out and not yet durable — its next record waits for
// `checkpointed`, or goes back to the front of the partition's queue when
// the wait that got it is dropped (the runtime sets `dropped` when it did
// not take the event). So the stored offset of a partition is always one
// past the last record some workflow logged, and a restart assigns there.
// The gauge perdure_kafka_waits{group,topic} counts a channel's armed
// waits not yet handed a record (a dropped one until the loop's next pass).

#include "kafka_common.hpp"
#include "perdure/listeners/events.hpp"
#include "perdure/listeners/kafka.hpp"
#include "perdure/runtime/metrics.hpp"

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <pthread.h>
#include <thread>

namespace perdure {
namespace detail {

namespace {

using offset_reader =
    std::function<result<std::optional<std::int64_t>>(const std::string&)>;

// The record a partition has handed out, until it is durable or dropped.
struct handed {
  std::shared_ptr<event_wait> wait;
  kafka_record record;
};

struct partition_queue {
  std::deque<kafka_record> records; ///< consumed, not handed out yet
  std::optional<handed> out;
};

class kafka_channel {
 public:
  kafka_channel(kafka_source src, offset_reader stored, eventlog::log_sink log,
                metrics::gauge* waiting)
      : src_(std::move(src))
      , stored_(std::move(stored))
      , log_(std::move(log))
      , waiting_(waiting)
      , rk_(new_kafka_consumer(src_, log_))
      , queue_(rd_kafka_queue_get_consumer(rk_)) {
    thread_ = std::thread{[this] { loop(); }};
  }

  ~kafka_channel() {
    stop();
  }

  void add(std::shared_ptr<event_wait> w) {
    {
      std::lock_guard guard{mu_};
      waits_.push_back(std::move(w));
      count_waits();
    }
    wake();
  }

  // The event of `w` is durable: its partition may hand out the next one.
  void checkpointed(const event_wait& w, const kafka_record& r) {
    if (r.topic != src_.topic)
      return;
    {
      std::lock_guard guard{mu_};
      auto it = parts_.find(r.partition);
      if (it == parts_.end() || !it->second.out ||
          it->second.out->record.offset != r.offset ||
          it->second.out->wait->workflow != w.workflow ||
          it->second.out->wait->step != w.step)
        return; // an event from before a restart: long settled
      it->second.out.reset();
    }
    commit_to_broker(r.partition, r.offset + 1);
    wake();
  }

  void stop() {
    std::call_once(stopped_, [&] {
      {
        std::lock_guard guard{mu_};
        stopping_ = true;
      }
      wake();
      thread_.join();
      if (waiting_)
        waiting_->set(0);
      rd_kafka_queue_destroy(queue_);
      rd_kafka_consumer_close(rk_);
      rd_kafka_destroy(rk_);
    });
  }

 private:
  // Consumed records kept beyond what the waits take (librdkafka also
  // prefetches, bounded by queued.min.messages).
  static constexpr std::size_t max_buffered = 10'000;

  // Under mu_: the gauge of armed waits follows waits_.
  void count_waits() {
    if (waiting_)
      waiting_->set(static_cast<double>(waits_.size()));
  }

  void wake() {
    {
      std::lock_guard guard{mu_};
      woken_ = true;
    }
    cv_.notify_one();
    rd_kafka_queue_yield(queue_);
  }

  void report(std::string e) {
    // Waits keep waiting (the broker may come back); say why.
    if (e != last_error_)
      eventlog::emit(log_, eventlog::log_level::warning,
                     fmt::format("kafka wait on '{}': {}", src_.topic, e));
    last_error_ = std::move(e);
  }

  // Assigns every partition at the offset stored in the log.
  bool assign() {
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk_, src_.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(rk_, 0, t, &md, 2000);
    std::vector<std::int32_t> ids;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      for (int i = 0; i < md->topics[0].partition_cnt; ++i)
        ids.push_back(md->topics[0].partitions[i].id);
    else
      report(
          fmt::format("metadata: {}", rd_kafka_err2str(err  ? err
                                                       : md ? md->topics[0].err
                                                            : err)));
    if (md)
      rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    if (ids.empty())
      return false;
    auto list = rd_kafka_topic_partition_list_new(static_cast<int>(ids.size()));
    for (auto p : ids) {
      auto off = stored_(offset_key(src_, p));
      if (!off) {
        report(off.error().to_string());
        rd_kafka_topic_partition_list_destroy(list);
        return false;
      }
      rd_kafka_topic_partition_list_add(list, src_.topic.c_str(), p)->offset =
          off->value_or(RD_KAFKA_OFFSET_BEGINNING);
    }
    err = rd_kafka_assign(rk_, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
      report(fmt::format("assign: {}", rd_kafka_err2str(err)));
      return false;
    }
    return true;
  }

  void commit_to_broker(std::int32_t partition, std::int64_t next) {
    // Advisory (monitoring tools read it); the log's offset is the truth.
    auto list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, src_.topic.c_str(), partition)
        ->offset = next;
    rd_kafka_commit(rk_, list, 1);
    rd_kafka_topic_partition_list_destroy(list);
  }

  // Under mu_: takes back the records of dropped waits, forgets dropped
  // waits, and pairs waiting waits with records of free partitions
  // (round robin over partitions, each in offset order).
  std::vector<handed> match() {
    for (auto& [p, q] : parts_)
      if (q.out && q.out->wait->dropped->load()) {
        q.records.push_front(std::move(q.out->record));
        q.out.reset();
      }
    std::erase_if(waits_, [](auto& w) { return w->dropped->load(); });
    std::vector<handed> out;
    while (!waits_.empty()) {
      partition_queue* free = nullptr;
      auto start = parts_.upper_bound(last_partition_);
      for (std::size_t i = 0; i < parts_.size() && !free; ++i) {
        if (start == parts_.end())
          start = parts_.begin();
        if (!start->second.out && !start->second.records.empty()) {
          free = &start->second;
          last_partition_ = start->first;
        }
        ++start;
      }
      if (!free)
        break;
      free->out =
          handed{std::move(waits_.front()), std::move(free->records.front())};
      waits_.pop_front();
      free->records.pop_front();
      --buffered_;
      out.push_back({free->out->wait, free->out->record});
    }
    count_waits();
    return out;
  }

  void hand(handed& h) {
    outcome o;
    o.what = outcome::kind::value;
    o.bytes = encode_value(h.record);
    h.wait->deliver(std::move(o), {{offset_key(src_, h.record.partition),
                                    h.record.offset + 1}});
  }

  void take(rd_kafka_message_t* m) {
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        report(fmt::format("consume: {}", rd_kafka_message_errstr(m)));
    } else {
      auto r = to_kafka_record(m);
      std::lock_guard guard{mu_};
      parts_[r.partition].records.push_back(std::move(r));
      ++buffered_;
    }
    rd_kafka_message_destroy(m);
  }

  void loop() {
    pthread_setname_np(pthread_self(), "perdure-kwait"); // for profilers
    bool assigned = false;
    std::unique_lock guard{mu_};
    while (!stopping_) {
      if (!assigned && !waits_.empty()) {
        guard.unlock();
        assigned = assign();
        guard.lock();
        if (!assigned) {
          cv_.wait_for(guard, std::chrono::milliseconds{200},
                       [&] { return stopping_; });
          continue;
        }
      }
      auto ready = match();
      bool fetch = assigned && !waits_.empty() && buffered_ < max_buffered;
      woken_ = false;
      guard.unlock();
      for (auto& h : ready)
        hand(h);
      if (fetch) {
        // What librdkafka has queued, in one call without waiting (a batch
        // call with a timeout waits to fill the batch); else wait for one
        // record, returning early on wake() (rd_kafka_queue_yield).
        rd_kafka_message_t* got[256];
        auto n = rd_kafka_consume_batch_queue(queue_, 0, got, 256);
        for (ssize_t i = 0; i < n; ++i)
          take(got[i]);
        if (n <= 0)
          if (auto* m = rd_kafka_consume_queue(queue_, 50))
            take(m);
      }
      guard.lock();
      if (!fetch && !woken_)
        cv_.wait_for(guard, std::chrono::milliseconds{50},
                     [&] { return stopping_ || woken_; });
    }
  }

  kafka_source src_;
  offset_reader stored_;
  eventlog::log_sink log_;
  metrics::gauge* waiting_; ///< null without an engine's metrics
  rd_kafka_t* rk_;
  rd_kafka_queue_t* queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<event_wait>> waits_;
  std::map<std::int32_t, partition_queue> parts_;
  std::int32_t last_partition_ = -1;
  std::size_t buffered_ = 0;
  bool woken_ = false;
  bool stopping_ = false;
  std::string last_error_; ///< loop thread only
  std::once_flag stopped_;
  std::thread thread_;
};

class kafka_wait_source final : public event_source {
 public:
  ~kafka_wait_source() override {
    stop();
  }

  void arm(std::shared_ptr<event_wait> w) override {
    auto fail = [&](const status& st) {
      w->deliver(
          outcome::failure("perdure::" + std::string{to_string(st.code())},
                           st.message()),
          {});
    };
    if (w->inputs.size() != 1) {
      fail({errc::type_mismatch, "a kafka wait takes one kafka_source"});
      return;
    }
    auto src = decode_value<kafka_source>(w->inputs[0].bytes);
    if (!src) {
      fail(src.error());
      return;
    }
    if (auto st = check(*src); !st) {
      fail(st);
      return;
    }
    if (auto st = check_loggable(*src); !st) {
      fail(st);
      return;
    }
    std::shared_ptr<kafka_channel> ch;
    try {
      std::lock_guard guard{mu_};
      if (stopped_)
        return;
      auto& slot = channels_[src->group + '\0' + src->topic];
      if (!slot)
        slot = std::make_shared<kafka_channel>(*src, w->stored_offset, log,
                                               waits_gauge(*src));
      ch = slot;
    } catch (const error& e) {
      fail(e.as_status());
      return;
    }
    ch->add(std::move(w));
  }

  metrics::gauge* waits_gauge(const kafka_source& src) {
    if (!metrics)
      return nullptr;
    return &metrics->get_gauge(
        "perdure_kafka_waits",
        "Workflows waiting for a Kafka record (armed wait_for_event"
        "<kafka_listener> nodes not yet handed one), per group and topic.",
        {{"group", src.group}, {"topic", src.topic}});
  }

  void checkpointed(const event_wait& w, const std::string& bytes) override {
    auto r = decode_value<kafka_record>(bytes);
    if (!r)
      return;
    std::vector<std::shared_ptr<kafka_channel>> all;
    {
      std::lock_guard guard{mu_};
      for (auto& [key, ch] : channels_)
        all.push_back(ch);
    }
    for (auto& ch : all)
      ch->checkpointed(w, *r);
  }

  void stop() override {
    std::map<std::string, std::shared_ptr<kafka_channel>> all;
    {
      std::lock_guard guard{mu_};
      stopped_ = true;
      all.swap(channels_);
    }
    for (auto& [key, ch] : all)
      ch->stop();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<kafka_channel>> channels_;
  bool stopped_ = false;
};

std::shared_ptr<const step_def> make_kafka_wait_def() {
  auto def = make_step_def(
      kafka_listener::name,
      [](kafka_source) -> kafka_record {
        throw std::logic_error{"a kafka wait node has no body"};
      },
      step_options{}, type_list<kafka_source>{});
  def->source_name = def->name;
  def->make_source = [] { return std::make_shared<kafka_wait_source>(); };
  return register_step(std::move(def));
}

} // namespace

} // namespace detail

void kafka_listener::check_input(const kafka_source& src) {
  // Validated before the source is logged as the node's input: a property
  // librdkafka does not know (a misspelling, upper case, a Java client's
  // sasl.jaas.config) never reaches the log.
  ok_or_throw(check(src));
  ok_or_throw(check_loggable(src));
}

std::shared_ptr<const detail::step_def> kafka_listener::event_def() {
  static const auto def = detail::make_kafka_wait_def();
  return def;
}

namespace {
// Registered before main so that resumed workflows find it.
[[maybe_unused]] const bool kafka_wait_registered =
    (kafka_listener::event_def(), true);
} // namespace

} // namespace perdure
