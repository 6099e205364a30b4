// SPDX-License-Identifier: Apache-2.0
// The CAF-free half of the actors module: call futures, idempotency keys,
// and reading an actor's stream back (latest snapshot + later events).

#include "actor_internal.hpp"
#include "actor_pool.hpp"

#include <fmt/format.h>
#include <random>

namespace perdure {

void throw_actor_error(status s) {
  if (s.code() == errc::failed)
    throw method_failed{std::move(s)};
  throw_error(std::move(s));
}

namespace detail {

// -- call_state ---------------------------------------------------------------

void call_state::complete(status st, std::string bytes) {
  std::function<void(const status&)> then;
  {
    std::lock_guard guard{mu_};
    if (done_)
      return;
    done_ = true;
    error_ = std::move(st);
    bytes_ = std::move(bytes);
    then.swap(on_done_);
  }
  cv_.notify_all();
  if (then)
    then(error_); // done_: error_ never changes again
}

void call_state::on_done(std::function<void(const status&)> fn) {
  {
    std::lock_guard guard{mu_};
    if (!done_) {
      on_done_ = std::move(fn);
      return;
    }
  }
  fn(error_);
}

void call_state::complete(result<std::string> r) {
  if (r)
    complete({}, std::move(*r));
  else
    complete(std::move(r).error(), {});
}

namespace {

// Waits until `done`; on an actor pool worker its thread is given up for
// another one meanwhile (managed blocking). Fails `busy` when too many
// workers wait already.
template <class Pred>
status wait_managed(std::unique_lock<std::mutex>& guard,
                    std::condition_variable& cv, Pred done) {
  if (done())
    return {};
  guard.unlock();
  blocking_scope blocking;
  guard.lock();
  if (!blocking && !done())
    return blocking.error();
  cv.wait(guard, done);
  return {};
}

} // namespace

result<std::string> call_state::wait() const {
  std::unique_lock guard{mu_};
  if (auto st = wait_managed(guard, cv_, [&] { return done_; }); !st)
    return st;
  if (!error_)
    return error_;
  return bytes_;
}

status call_state::wait_status() const {
  std::unique_lock guard{mu_};
  if (auto st = wait_managed(guard, cv_, [&] { return done_; }); !st)
    return st;
  return error_;
}

bool call_state::wait_for(std::chrono::nanoseconds d) const {
  std::unique_lock guard{mu_};
  if (done_)
    return true;
  guard.unlock();
  blocking_scope blocking; // at the bound: waits anyway, it is bounded
  guard.lock();
  return cv_.wait_for(guard, d, [&] { return done_; });
}

bool call_state::done() const {
  std::lock_guard guard{mu_};
  return done_;
}

// -- keys -----------------------------------------------------------------------

namespace {

struct step_calls {
  std::string workflow;
  std::string step;
  int attempt = 0;
  std::uint64_t n = 0;
};

} // namespace

call_context& current_call() noexcept {
  thread_local call_context ctx;
  return ctx;
}

std::string new_call_key() {
  auto& ctx = current_call();
  if (ctx.key) {
    // The n-th actor call of a mutating method: the same key when the
    // method runs again for the same call (its key), so what it called
    // is not called twice.
    return fmt::format("{}/{}/#{}", *ctx.actor, *ctx.key, ctx.calls++);
  }
  const auto& wf = this_step::workflow_id();
  if (!wf.empty()) {
    // The n-th actor call of this step body: the same key on every attempt,
    // so a retried step repeats the call instead of running it twice.
    thread_local step_calls calls;
    const auto& step = this_step::step_id();
    int attempt = this_step::attempt();
    if (calls.workflow != wf || calls.step != step
        || calls.attempt != attempt) {
      calls = {wf, step, attempt, 0};
    }
    return fmt::format("{}/{}/#{}", wf, step, calls.n++);
  }
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", gen(), gen());
}

void key_index::put(std::string key, remembered r) {
  auto [it, fresh] = map_.insert_or_assign(std::move(key), std::move(r));
  if (fresh)
    order_.push_back(&*it);
}

const remembered* key_index::find(const std::string& key) const {
  auto i = map_.find(key);
  return i == map_.end() ? nullptr : &i->second;
}

void key_index::trim(std::size_t n) {
  while (order_.size() > n) {
    map_.erase(map_.find(order_.front()->first));
    order_.pop_front();
  }
}

std::vector<actor_records::key_entry> key_index::newest(std::size_t n) const {
  std::vector<actor_records::key_entry> out;
  auto from = order_.size() > n ? order_.size() - n : 0;
  out.reserve(order_.size() - from);
  for (auto i = from; i < order_.size(); ++i) {
    auto& [k, r] = *order_[i];
    out.push_back({k, r.ok, {r.result}, r.error});
  }
  return out;
}

std::string method_error(const std::string& id, const std::string& method,
                         const std::string& type, const std::string& text) {
  return fmt::format("actor '{}': method '{}' threw {}: {}", id, method, type,
                     text);
}

std::int64_t mono_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

std::string stream_of(std::string_view id) {
  return fmt::format("actor/{}", id);
}

// -- loading --------------------------------------------------------------------

namespace {

using eventlog::record_kind;

} // namespace

std::optional<bool> read_call_end(const eventlog::record_view& r,
                                  const std::string& stream,
                                  const std::string& id, loaded_actor& out,
                                  status& bad) {
  switch (static_cast<record_kind>(r.kind)) {
  case record_kind::actor_call_failed: {
    auto f = decode_rec<actor_records::failed>(r, stream);
    if (!f)
      return (bad = f.error(), false);
    out.keys.put(f->key, {false, {},
                          method_error(id, f->method, f->error_type,
                                       f->error_text)});
    return true;
  }
  case record_kind::actor_call_completed: {
    auto c = decode_rec<actor_records::completed>(r, stream);
    if (!c)
      return (bad = c.error(), false);
    out.keys.put(c->key, {c->ok, std::move(c->result.data), c->error});
    if (out.pending && out.pending->workflow == c->workflow)
      out.pending.reset();
    return true;
  }
  default:
    return std::nullopt;
  }
}

void keys_from_snapshot(actor_records::snapshot& s, loaded_actor& out) {
  out.keys = {};
  for (auto& k : s.keys)
    out.keys.put(k.key, {k.ok, std::move(k.result.data), k.error});
}

result<loaded_actor> load_actor(const eventlog::event_log& log,
                                const std::string& stream,
                                const actor_class& cls) {
  std::string id = stream.substr(6);
  auto info = log.info(stream);
  if (!info) {
    if (info.error() == errc::not_found)
      return unexpected{errc::not_found, fmt::format("no actor '{}'", id)};
    return std::move(info).error();
  }
  if (info->kind != eventlog::stream_kind::actor)
    return unexpected{errc::type_mismatch,
                      fmt::format("'{}' is not an actor stream", stream)};
  auto meta = codec::decode<actor_records::actor_meta>(info->metadata);
  if (!meta)
    return unexpected{errc::corruption,
                      fmt::format("actor '{}': bad metadata: {}", id,
                                  meta.error().message())};
  if (auto sig = check_signature(*meta, cls, id); !sig)
    return sig;
  if (cls.event_sourced) {
    auto folded = load_folded(log, *info, stream, cls);
    if (folded)
      folded->meta_update = merged_meta(*meta, cls);
    return folded;
  }
  loaded_actor out;
  out.meta_update = merged_meta(*meta, cls);
  std::string state_bytes, before_bytes;
  status bad;
  auto from = info->snapshot_seq ? info->snapshot_seq : info->first_seq;
  auto st = log.scan(stream, from, [&](const eventlog::record_view& r) {
    switch (static_cast<record_kind>(r.kind)) {
      case record_kind::actor_created: {
        auto c = decode_rec<actor_records::created>(r, stream);
        if (!c)
          return (bad = c.error(), false);
        state_bytes = std::move(c->state.data);
        break;
      }
      case record_kind::actor_snapshot: {
        auto s = decode_rec<actor_records::snapshot>(r, stream);
        if (!s)
          return (bad = s.error(), false);
        state_bytes = std::move(s->state.data);
        keys_from_snapshot(*s, out);
        out.since_snapshot = 0;
        out.event_bytes_since = 0;
        out.snapshot_bytes = r.payload.size();
        return true;
      }
      case record_kind::actor_called: {
        auto c = decode_rec<actor_records::called>(r, stream);
        if (!c)
          return (bad = c.error(), false);
        if (c->workflow.empty()) {
          out.keys.put(c->key, {true, std::move(c->result.data), {}});
        } else {
          out.pending = pending_sub{c->key, c->method, std::move(c->args.data),
                                    c->workflow, nullptr};
          before_bytes = state_bytes;
        }
        state_bytes = std::move(c->state.data);
        out.event_bytes_since += r.payload.size();
        break;
      }
      default:
        if (auto go = read_call_end(r, stream, id, out, bad); go && !*go)
          return false;
        break; // records of other modules are not ours to read
    }
    ++out.since_snapshot;
    return true;
  });
  if (!st)
    return st;
  if (!bad)
    return bad;
  if (state_bytes.empty())
    return unexpected{errc::corruption,
                      fmt::format("actor '{}' has no initial state", id)};
  auto state = cls.decode(state_bytes);
  if (!state)
    return unexpected{errc::type_mismatch,
                      fmt::format("actor '{}': its stored state does not "
                                  "decode as '{}': {}",
                                  id, cls.name, state.error().message())};
  out.state = std::move(*state);
  if (out.pending) {
    auto before = cls.decode(before_bytes);
    if (!before)
      return std::move(before).error();
    out.pending->before = std::move(*before);
  }
  out.last_seq = info->last_seq;
  return out;
}

} // namespace detail
} // namespace perdure
