// SPDX-License-Identifier: Apache-2.0
// A runner's mutating calls: deduplication by key, applying the method
// (with the runner's lock released, so that stop() never waits for user
// code), the records and snapshots of a call, and their grouped commit.

#include "actor_runner.hpp"
#include "perdure/eventlog/records/projection.hpp"

#include <fmt/format.h>

namespace perdure::detail {

using eventlog::record_kind;
using eventlog::to_u16;

void reply(call_state& d, const remembered& r) {
  if (r.ok)
    d.complete({}, r.result);
  else
    d.complete({errc::failed, r.error}, {});
}

void drain_waiting(cell_runner& r) {
  auto& s = r.s;
  while (!s.sub && !s.waiting.empty() && !s.stopping) {
    auto m = std::move(s.waiting.front());
    s.waiting.pop_front();
    on_mutation(r, std::move(m));
  }
}

void flush(cell_runner& r) {
  auto& s = r.s;
  if (!s.group)
    return;
  auto g = std::move(*s.group);
  s.group.reset();
  // Nothing else of this actor in the log or waiting: its next mutation
  // waits for this group (the log may sync it on this thread). (`pending`
  // would still hold a group whose acknowledgement is on its way.)
  using then = eventlog::event_log::then;
  bool alone_in_log = r.in_log.fetch_add(1) == 0;
  auto after =
    alone_in_log && s.waiting.empty() ? then::waits : then::goes_on;
  s.svc->submit_to_log(
    std::move(g.b),
    [runner = r.shared_from_this(), first = g.first_no, count = g.count,
     replies = std::move(g.replies),
     state = std::move(g.state)](result<eventlog::commit_info> c) {
      runner->in_log.fetch_sub(1); // first: a reply may bring the next call
      // Publish and answer here, in commit order, without a hop through
      // the inbox: the results go out as soon as they are durable.
      if (c) {
        if (state)
          runner->s.cell->snapshot.store(state);
        for (auto& x : replies)
          reply(*x.done, x.outcome);
      }
      runner->post(commit_ack{first, count, c ? status{} : c.error()});
    },
    after);
}

void submit(cell_runner& r, in_flight e) {
  auto& s = r.s;
  auto& g = *s.group;
  e.no = s.next_no++;
  e.last_after = s.predicted_last;
  if (e.outcome && e.done)
    g.replies.push_back({e.done, *e.outcome});
  if (e.state)
    g.state = e.state;
  ++g.count;
  s.pending.push_back(std::move(e));
  if (s.grouping == 0)
    flush(r);
}

eventlog::write_batch& batch_of(cell_state& s) {
  if (!s.group) {
    s.group.emplace();
    s.group->first_no = s.next_no;
    s.group->b.expect_last(s.cell->stream, s.predicted_last);
  }
  return s.group->b;
}

namespace {

// Appends a snapshot of the head state to `b` with the newest keys (those
// of the calls in flight and `cur` included) and points the stream at it.
void append_snapshot(cell_state& s, eventlog::write_batch& b,
                     const in_flight* cur) {
  auto& o = s.svc->opts;
  // Encoded from views of the keys (a snapshot holds up to key_window of
  // them), unless a key has a NUL byte, which a C string cannot carry.
  actor_records::snapshot_view view;
  view.keys.reserve(std::min<std::size_t>(s.keys.size(), o.key_window)
                    + s.pending.size() + 1);
  bool plain = true;
  auto add = [&](const std::string& k, const remembered& r) {
    plain = plain && k.find('\0') == std::string::npos
            && r.error.find('\0') == std::string::npos;
    view.keys.push_back({k.c_str(), r.ok, {r.result}, r.error.c_str()});
  };
  s.keys.for_newest(o.key_window, add);
  for (auto& e : s.pending)
    if (e.outcome)
      add(e.key, *e.outcome);
  if (cur && cur->outcome)
    add(cur->key, *cur->outcome);
  std::string bytes;
  if (plain) {
    view.state.data = s.cell->cls->encode(s.head.get());
    bytes = codec::encode(view);
  } else {
    actor_records::snapshot snap;
    snap.state.data = s.cell->cls->encode(s.head.get());
    snap.keys = s.keys.newest(o.key_window);
    auto add_copy = [&](const in_flight& e) {
      if (e.outcome)
        snap.keys.push_back({e.key, e.outcome->ok, {e.outcome->result},
                             e.outcome->error});
    };
    for (auto& e : s.pending)
      add_copy(e);
    if (cur)
      add_copy(*cur);
    bytes = codec::encode(snap);
  }
  s.snapshot_bytes = bytes.size();
  b.append(s.cell->stream, to_u16(record_kind::actor_snapshot),
           std::move(bytes));
  ++s.predicted_last;
  b.set_snapshot(s.cell->stream, s.predicted_last);
  if (!o.keep_history)
    b.drop_before(s.cell->stream, s.predicted_last);
  s.since_snapshot = 0;
  s.events_since = 0;
  s.event_bytes_since = 0;
}

} // namespace

void maybe_snapshot(cell_state& s, eventlog::write_batch& b,
                    const in_flight& cur) {
  auto& o = s.svc->opts;
  if (s.cell->cls->event_sourced)
    return; // snapshot_between() takes them, off the calls' path
  if (s.sub || ++s.since_snapshot < std::max<std::uint32_t>(1, o.snapshot_every)
      || s.event_bytes_since < s.snapshot_bytes)
    return;
  append_snapshot(s, b, &cur);
}

void snapshot_between(cell_runner& r) {
  auto& s = r.s;
  auto& o = s.svc->opts;
  if (!s.cell->cls->event_sourced || s.sub || s.stopping || s.group)
    return;
  if (s.events_since < std::max<std::uint32_t>(1, o.events_per_snapshot)
      && s.event_bytes_since
           < std::max<std::size_t>(1, o.event_bytes_per_snapshot))
    return;
  if (s.event_bytes_since < s.snapshot_bytes)
    return; // a snapshot bigger than the events since the last one

  // A batch of its own after the calls' (their callers are answered from
  // their own commits): the head state, which the calls in flight built.
  append_snapshot(s, batch_of(s), nullptr);
  submit(r, in_flight{});
}

namespace {

// Copies each event of the call logged at `seq` into its class's feed
// (projections read it), in the call's batch.
void append_feed(eventlog::write_batch& b, const actor_cell& c,
                 eventlog::seq_t seq,
                 const std::vector<actor_records::stored_event>& events) {
  if (events.empty())
    return;
  auto feed = projection_records::feed_stream(c.cls->name);
  for (auto& e : events)
    b.append(feed, projection_records::actor_feed_kind,
             codec::encode(projection_records::feed_event{
               c.id, seq, e.type, e.signature, e.data}));
}

// Runs the method of `m` on a copy of `head` with the runner's lock
// released: the method may block in calls to other actors, and stop() must
// not wait for it. Its calls carry its chain and derive their keys from
// its key.
applied run_method(cell_runner& r, mutation& m,
                   std::vector<actor_records::tell>& tells) {
  auto& s = r.s;
  auto head = s.head;
  s.running = m.done;
  s.running_method = m.method->name;
  r.held->unlock();
  applied a;
  {
    call_scope scope{
      {m.chain, &s.cell->id, &m.method->name, &m.key, 0, &tells, s.svc}};
    detail::engine_scope in_engine{*s.svc->eng}; // this_step::engine()
    a = m.value ? m.method->apply_tuple(head.get(), m.value.get())
                : m.method->apply(head.get(), m.args);
  }
  r.held->lock();
  s.running.reset();
  s.running_method.clear();
  return a;
}

void apply(cell_runner& r, mutation& m) {
  auto& s = r.s;
  auto& c = *s.cell;
  if (m.value)
    m.args = m.method->encode_tuple(m.value.get());
  std::vector<actor_records::tell> tells;
  auto a = run_method(r, m, tells);
  m.value.reset();
  if (s.stopping) {
    // The engine stopped meanwhile: nothing is logged, so the call runs
    // again when it is repeated (its caller got `closed`).
    m.done->complete({errc::closed, "the engine is shutting down"}, {});
    return;
  }
  if (a.graph && s.sub) {
    m.done->complete({errc::conflict,
                      fmt::format("actor '{}': method '{}' returned a "
                                  "sub-workflow while another one runs",
                                  c.id, m.method->name)},
                     {});
    return;
  }
  auto& b = batch_of(s);
  in_flight e;
  e.key = m.key;
  e.done = m.done;
  if (auto t = actor_records::parse_sequenced_key(m.key)) {
    // A told message or an outside source's item: applied once, whatever
    // the method does.
    e.seq_offset = t->offset_of(c.id);
    e.seq = t->seq;
    b.put_offset(e.seq_offset, static_cast<std::int64_t>(t->seq));
  }
  if (a.error_type.empty() && !tells.empty()) {
    // Its messages go out once this call is durable (actor_outbox.hpp).
    auto out = actor_records::outbox_stream(c.id);
    for (auto& t : tells)
      b.append(out, to_u16(record_kind::actor_tell), codec::encode(t));
    e.tells = true;
  }
  if (!a.error_type.empty()) {
    b.append(c.stream, to_u16(record_kind::actor_call_failed),
             codec::encode(actor_records::failed{m.key, m.method->name,
                                                 {m.args}, a.error_type,
                                                 a.error_text}));
    e.outcome = remembered{false, {}, method_error(c.id, m.method->name,
                                                   a.error_type, a.error_text)};
  } else if (c.cls->event_sourced) {
    actor_records::events_called rec{m.key, m.method->name,
                                     {std::move(m.args)}, {a.result},
                                     std::move(a.events), {}};
    if (a.graph) {
      rec.workflow = fmt::format("{}/{}", c.stream, m.key);
      e.graph = std::move(a.graph);
      e.workflow = rec.workflow;
      s.sub = sub_call{m.key, rec.workflow, {}};
    } else {
      e.outcome = remembered{true, std::move(a.result), {}};
    }
    auto bytes = codec::encode(rec);
    s.events_since += static_cast<std::uint32_t>(rec.events.size());
    s.event_bytes_since += bytes.size();
    b.append(c.stream, to_u16(record_kind::actor_events), std::move(bytes));
    if (s.svc->opts.event_feed)
      append_feed(b, c, s.predicted_last + 1, rec.events);
    e.state = a.state;
    s.head = std::move(a.state);
  } else {
    actor_records::called rec{m.key, m.method->name, {std::move(m.args)},
                              {a.result}, {c.cls->encode(a.state.get())},
                              {}};
    if (a.graph) {
      rec.workflow = fmt::format("{}/{}", c.stream, m.key);
      e.graph = std::move(a.graph);
      e.workflow = rec.workflow;
      s.sub = sub_call{m.key, rec.workflow, {}};
    } else {
      e.outcome = remembered{true, std::move(a.result), {}};
    }
    auto bytes = codec::encode(rec);
    s.event_bytes_since += bytes.size();
    b.append(c.stream, to_u16(record_kind::actor_called), std::move(bytes));
    e.state = a.state;
    s.head = std::move(a.state);
  }
  ++s.predicted_last;
  maybe_snapshot(s, b, e);
  submit(r, std::move(e));
}

// A key whose call failed because its sub-workflow failed: when that
// workflow was resumed since and succeeded, its output is the call's
// result from now on (logged as a later completion of the call, which
// replaces the failure under the key). False: the failure stands.
bool answer_resumed(cell_runner& r, mutation& m) {
  auto& s = r.s;
  auto wf = fmt::format("{}/{}", s.cell->stream, m.key);
  auto st = s.svc->eng->try_status(wf);
  if (!st || *st != workflow_status::successful)
    return false;
  auto out = s.svc->eng->output_bytes(wf, {});
  if (!out)
    return false;
  in_flight e;
  e.key = m.key;
  e.done = m.done;
  e.outcome = remembered{true, std::move(*out), {}};
  auto& b = batch_of(s);
  b.append(s.cell->stream, to_u16(record_kind::actor_call_completed),
           codec::encode(actor_records::completed{
             m.key, wf, true, {e.outcome->result}, {}}));
  ++s.predicted_last;
  maybe_snapshot(s, b, e);
  submit(r, std::move(e));
  return true;
}

// The highest seq this actor applied from a sender's outbox or an outside
// source, kept in offset `name` (0: none).
result<std::uint64_t> applied_seq(cell_state& s, std::string name) {
  if (auto i = s.applied_seqs.find(name); i != s.applied_seqs.end())
    return i->second;
  auto v = s.svc->log->offset(name);
  if (!v)
    return std::move(v).error();
  auto last = static_cast<std::uint64_t>(v->value_or(0));
  s.applied_seqs.emplace(std::move(name), last);
  return last;
}

} // namespace

void on_mutation(cell_runner& r, mutation m) {
  auto& s = r.s;
  if (s.stopping) {
    m.done->complete({errc::closed, "the engine is shutting down"}, {});
    return;
  }
  // In flight first: a key being answered anew is in both.
  for (auto& e : s.pending)
    if (e.key == m.key) {
      e.followers.push_back(m.done);
      return;
    }
  if (auto t = actor_records::parse_sequenced_key(m.key)) {
    auto last = applied_seq(s, t->offset_of(s.cell->id));
    if (!last) {
      m.done->complete(std::move(last).error(), {});
      return;
    }
    // Applied before: once only. An outside source's item still in the
    // key window gets its logged answer (below: a failed attempt says so).
    if (t->seq <= *last && (t->told || !s.keys.find(m.key))) {
      m.done->complete({}, {});
      return;
    }
  }
  if (auto k = s.keys.find(m.key)) {
    if (!k->ok && answer_resumed(r, m))
      return;
    reply(*m.done, *k);
    return;
  }
  if (s.sub && s.sub->key == m.key) {
    s.sub->waiters.push_back(m.done);
    return;
  }
  if (s.sub && !m.reentrant) {
    s.waiting.push_back(std::move(m));
    return;
  }
  apply(r, m);
}

void on_mutations(cell_runner& r, std::vector<mutation>& ms) {
  auto& s = r.s;
  ++s.grouping;
  for (auto& m : ms)
    on_mutation(r, std::move(m));
  --s.grouping;
  flush(r);
}

} // namespace perdure::detail
