// SPDX-License-Identifier: Apache-2.0
// Projections: one thread per running projection reads its source class's
// feed (actor-feed/<class>) from its stored offset and commits rows and
// offset together (exactly-once) or the offset after the handler
// (at-least-once). Layout: perdure/eventlog/records/projection.hpp.

#include "perdure/actors/projection.hpp"
#include "perdure/eventlog/change_feed.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/projection.hpp"
#include "perdure/eventlog/thread_name.hpp"

#include "actor_runner.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace perdure {

namespace pr = projection_records;

// -- rows ---------------------------------------------------------------------

struct projection_rows::impl {
  const eventlog::event_log* log = nullptr;
  std::string name;
  std::map<std::string, std::optional<std::string>, std::less<>> pending;

  // Moves the pending rows into `b`.
  status flush(eventlog::write_batch& b) {
    for (auto& [key, value] : pending) {
      auto stream = pr::row_stream(name, key);
      if (value) {
        b.create(stream, eventlog::stream_kind::other, *value);
        b.set_metadata(stream, std::move(*value));
        continue;
      }
      auto i = log->info(stream);
      if (i)
        b.remove(stream);
      else if (i.error() != errc::not_found)
        return i.error();
    }
    pending.clear();
    return {};
  }
};

namespace {

void check_key(std::string_view name, std::string_view key) {
  auto bad = key.empty() || key.size() > 200
               ? std::string{"1..200 bytes"}
               : eventlog::check_stream_id(pr::row_stream(name, key));
  if (!bad.empty())
    throw_error({errc::invalid_argument,
                 fmt::format("projection '{}': bad row key: {}", name, bad)});
}

} // namespace

std::optional<std::string> projection_rows::get(std::string_view key) const {
  if (auto i = impl_->pending.find(key); i != impl_->pending.end())
    return i->second;
  auto info = impl_->log->info(pr::row_stream(impl_->name, key));
  if (info)
    return std::move(info->metadata);
  if (info.error() == errc::not_found)
    return std::nullopt;
  throw_error(std::move(info).error());
}

void projection_rows::put(std::string_view key, std::string value) {
  check_key(impl_->name, key);
  impl_->pending.insert_or_assign(std::string{key}, std::move(value));
}

void projection_rows::erase(std::string_view key) {
  check_key(impl_->name, key);
  impl_->pending.insert_or_assign(std::string{key}, std::nullopt);
}

// -- the runner -------------------------------------------------------------

namespace detail {

namespace {

constexpr auto note_kind =
  eventlog::to_u16(eventlog::record_kind::change_note);

// A record a change note names, read where it is.
struct noted_record {
  eventlog::change_note note;
  std::string payload;
  bool removed = false; // its stream was removed (or its id reused)
};

// Reads the record `note` (a change_note record of the feed) names. The
// record was written in the note's transaction, so it has the note's
// time: a record of another time or kind at that seq belongs to a
// stream that was removed and started again under the same id.
result<noted_record> read_noted(const eventlog::event_log& log,
                                const eventlog::record_view& note) {
  auto n = eventlog::decode_change_note(note.payload);
  if (!n)
    return std::move(n).error();
  noted_record out{std::move(*n), {}, true};
  auto info = log.info(out.note.source);
  if (!info) {
    if (info.error() == errc::not_found)
      return out;
    return std::move(info).error();
  }
  if (info->first_seq == 0 || out.note.seq < info->first_seq
      || out.note.seq > info->last_seq)
    return out;
  auto st = log.scan(out.note.source, out.note.seq,
                     [&](const eventlog::record_view& r) {
                       if (r.kind == out.note.kind && r.time == note.time) {
                         out.payload = std::string{r.payload};
                         out.removed = false;
                       }
                       return false;
                     });
  if (!st)
    return st;
  return out;
}

} // namespace

struct projection_runner {
  std::shared_ptr<eventlog::event_log> log;
  std::string name, source;
  rows_handler rows;
  event_handler each;
  projection_options o;
  metrics::gauge* lag_gauge = nullptr;
  metrics::gauge* pos_gauge = nullptr;

  std::atomic<std::uint64_t> pos{0}, lag{0};
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;
  std::condition_variable cv;
  status err;                 ///< guarded by mu
  bool reset_asked = false;   ///< guarded by mu
  std::optional<status> reset_done; ///< guarded by mu
  std::mutex join_mu;
  std::thread th;

  ~projection_runner() {
    stop();
  }

  void stop() {
    {
      std::lock_guard g{mu};
      stopping = true;
    }
    cv.notify_all();
    std::lock_guard g{join_mu}; // the handle and the engine may both stop it
    if (th.joinable() && th.get_id() != std::this_thread::get_id())
      th.join();
  }

  void fail(status s) {
    {
      std::lock_guard g{mu};
      err = std::move(s);
      stopping = true;
    }
    cv.notify_all(); // a reset() waiting for this thread
  }

  void publish(std::uint64_t head) {
    auto p = pos.load();
    lag = head > p ? head - p : 0;
    lag_gauge->set(static_cast<double>(lag.load()));
    pos_gauge->set(static_cast<double>(p));
  }

  // Handles up to o.batch events after pos and stores the offset.
  status step(const std::string& feed, const std::string& key) {
    eventlog::write_batch b;
    projection_rows::impl ri{log.get(), name, {}};
    projection_rows rs{ri};
    auto last = pos.load();
    std::size_t n = 0;
    status bad;
    auto st = log->scan(feed, last + 1, [&](const eventlog::record_view& r) {
      std::optional<pr::feed_event> ev;
      std::optional<noted_record> wr;
      projected_event pe;
      if (r.kind == pr::actor_feed_kind) {
        auto d = codec::decode<pr::feed_event>(r.payload);
        if (!d)
          return (bad = {errc::corruption,
                         fmt::format("feed '{}' seq {}: {}", feed, r.seq,
                                     d.error().message())},
                  false);
        ev = std::move(*d);
        pe.actor = ev->actor;
        pe.seq = ev->seq;
        pe.position = r.seq;
        pe.type = ev->type;
        pe.signature = ev->signature;
        pe.data = ev->data.data;
      } else if (r.kind == note_kind) {
        auto n = read_noted(*log, r);
        if (!n)
          return (bad = {n.error().code(),
                         fmt::format("feed '{}' seq {}: {}", feed, r.seq,
                                     n.error().message())},
                  false);
        wr = std::move(*n);
        pe.workflow = wr->note.source;
        pe.seq = wr->note.seq;
        pe.position = r.seq;
        pe.type = eventlog::kind_name(wr->note.kind);
        pe.data = wr->payload;
        pe.removed = wr->removed;
      }
      if (ev || wr) {
        try {
          if (rows)
            rows(pe, rs);
          else
            each(pe);
        } catch (const std::exception& e) {
          bad = {errc::failed,
                 fmt::format("projection '{}': the handler threw at {} "
                             "({} '{}' seq {}, {}): {}",
                             name, r.seq, ev ? "actor" : "workflow",
                             ev ? pe.actor : pe.workflow, pe.seq, pe.type,
                             e.what())};
          return false;
        }
      }
      last = r.seq;
      return ++n < std::max<std::size_t>(1, o.batch) && !stopping;
    });
    if (!st)
      return st;
    // exactly-once drops the batch of a failed handler; at-least-once
    // stores the offset of what the handler did before it threw
    bool failed = !bad.is_ok();
    if (rows && !failed)
      if (auto f = ri.flush(b); !f)
        return f;
    if (last > pos.load() && !(rows && failed)) {
      b.put_offset(key, static_cast<std::int64_t>(last));
      if (auto c = log->commit(std::move(b)); !c)
        return c.error();
      pos = last;
    }
    return bad;
  }

  void run() {
    auto feed = pr::feed_stream(source);
    auto key = pr::offset_key(name);
    while (!stopping) {
      {
        std::unique_lock g{mu};
        if (reset_asked) {
          reset_asked = false;
          g.unlock();
          auto st = pr::reset_projection(*log, name);
          if (st)
            pos = 0;
          g.lock();
          reset_done = std::move(st);
          cv.notify_all();
        }
      }
      std::uint64_t head = 0;
      auto info = log->info(feed);
      if (info)
        head = info->last_seq;
      else if (info.error() != errc::not_found)
        return fail(std::move(info).error());
      publish(head);
      if (head <= pos) {
        std::unique_lock g{mu};
        cv.wait_for(g, o.poll, [&] { return stopping || reset_asked; });
        continue;
      }
      if (auto st = step(feed, key); !st)
        return fail(std::move(st));
    }
  }

  status reset() {
    std::unique_lock g{mu};
    if (stopping)
      return {errc::closed, "the projection stopped"};
    reset_asked = true;
    reset_done.reset();
    cv.notify_all();
    cv.wait(g, [&] { return reset_done.has_value() || stopping; });
    if (!reset_done)
      return {errc::closed, "the projection stopped"};
    return *reset_done;
  }
};

namespace {

class projection_service : public engine_service {
 public:
  std::mutex mu;
  bool closed = false;
  std::map<std::string, std::shared_ptr<projection_runner>, std::less<>>
    running;

  void stop() override {
    std::map<std::string, std::shared_ptr<projection_runner>, std::less<>>
      all;
    {
      std::lock_guard g{mu};
      closed = true;
      all.swap(running);
    }
    for (auto& [n, r] : all)
      r->stop();
  }
};

std::shared_ptr<projection_service> service_of(engine& eng) {
  return eng.service<projection_service>(
    [] { return std::make_shared<projection_service>(); });
}

bool good_name(std::string_view n) {
  if (n.empty() || n.size() > 100)
    return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'
          || c == '.' || c == '-'))
      return false;
  return true;
}

// Registers `name` (meta stream) or checks the stored registration.
status register_projection(eventlog::event_log& log, const std::string& name,
                           const pr::projection_meta& meta) {
  auto stream = pr::meta_stream(name);
  auto info = log.info(stream);
  if (info) {
    auto m = codec::decode<pr::projection_meta>(info->metadata);
    if (!m)
      return m.error();
    if (m->source != meta.source || m->exactly_once != meta.exactly_once)
      return {errc::conflict,
              fmt::format("projection '{}' is stored over '{}' ({}); it "
                          "cannot run over '{}' ({})",
                          name, m->source,
                          m->exactly_once ? "exactly-once" : "at-least-once",
                          meta.source,
                          meta.exactly_once ? "exactly-once"
                                            : "at-least-once")};
    return {};
  }
  if (info.error() != errc::not_found)
    return info.error();
  eventlog::write_batch b;
  b.create(stream, eventlog::stream_kind::other, codec::encode(meta));
  return log.commit(std::move(b)).as_status();
}

} // namespace

result<projection> start_projection(engine& eng, std::string name,
                                    std::string source, rows_handler rows,
                                    event_handler each,
                                    projection_options o) {
  if (!good_name(name))
    return unexpected{errc::invalid_argument,
                      fmt::format("bad projection name '{}': 1..100 of "
                                  "[A-Za-z0-9_.-]",
                                  name)};
  if (source == pr::workflows_source) {
    if (!eng.options().workflow_feed)
      return unexpected{errc::invalid_argument,
                        fmt::format("projection '{}': this engine does not "
                                    "note workflow records "
                                    "(engine_options::workflow_feed is off)",
                                    name)};
  } else if (!detail::event_feed_on(eng))
    return unexpected{errc::invalid_argument,
                      fmt::format("projection '{}': this engine's actors do "
                                  "not write the feed projections read "
                                  "(actor_options::event_feed is off)",
                                  name)};
  auto svc = service_of(eng);
  std::lock_guard g{svc->mu};
  if (svc->closed)
    return unexpected{errc::closed, "the engine is shutting down"};
  if (auto i = svc->running.find(name); i != svc->running.end()) {
    if (!i->second->stopping)
      return unexpected{errc::conflict,
                        fmt::format("projection '{}' runs already", name)};
    i->second->stop();
    svc->running.erase(i);
  }
  auto& log = eng.event_log();
  if (auto st = register_projection(*log, name, {source, bool(rows)}); !st)
    return st;
  auto off = log->offset(pr::offset_key(name));
  if (!off)
    return std::move(off).error();
  auto r = std::make_shared<projection_runner>();
  r->pos = static_cast<std::uint64_t>(off->value_or(0));
  r->log = log;
  r->name = name;
  r->source = std::move(source);
  r->rows = std::move(rows);
  r->each = std::move(each);
  r->o = o;
  auto& reg = eng.metrics();
  r->lag_gauge = &reg.get_gauge(
    "perdure_projection_lag",
    "Events of a projection's source class not handled yet.",
    {{"projection", name}});
  r->pos_gauge = &reg.get_gauge(
    "perdure_projection_position",
    "The feed position a projection handled and stored last.",
    {{"projection", name}});
  r->th = std::thread{[p = r.get()] {
    eventlog::set_thread_name("perdure-project");
    p->run();
  }};
  svc->running.emplace(name, r);
  return projection{std::move(r)};
}

} // namespace detail

// -- handle and engine-level operations ---------------------------------------

const std::string& projection::name() const noexcept {
  return r_->name;
}
std::uint64_t projection::position() const noexcept {
  return r_->pos;
}
std::uint64_t projection::lag() const noexcept {
  return r_->lag;
}
status projection::error() const {
  std::lock_guard g{r_->mu};
  return r_->err;
}
void projection::stop() {
  r_->stop();
}

status reset_projection(engine& eng, std::string_view name) {
  auto svc = detail::service_of(eng);
  std::shared_ptr<detail::projection_runner> r;
  {
    std::lock_guard g{svc->mu};
    if (auto i = svc->running.find(name); i != svc->running.end())
      r = i->second;
  }
  if (r && !r->stopping)
    return r->reset();
  return projection_records::reset_projection(*eng.event_log(), name);
}

result<std::map<std::string, std::string>> projection_table(
  engine& eng, std::string_view name) {
  return projection_records::read_rows(*eng.event_log(), name);
}

} // namespace perdure
