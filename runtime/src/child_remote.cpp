// SPDX-License-Identifier: Apache-2.0
// A child of another engine (child_remote.hpp): recorded in the parent's
// log, started where it lives, followed there.

#include "child_remote.hpp"

#include "perdure/eventlog/records/child.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace perdure::detail {

namespace rec = perdure::records;

namespace {

using namespace std::chrono_literals;

// Between looks at a running child: from the first pause up to the last,
// doubling (a short child is seen soon, a long one costs one request a
// second).
constexpr std::chrono::milliseconds first_pause{10};
constexpr std::chrono::milliseconds last_pause{1000};

bool later(remote_child_wait& s) {
  s.pause = std::clamp(s.pause * 2, first_pause, last_pause);
  s.next_look = std::chrono::steady_clock::now() + s.pause;
  return false;
}

// A read's error worth another look: a transient one, or conflict (only a
// start's conflict is the child's answer; a read's is the way there: no
// owner known yet, a partition moving).
bool again(errc c) {
  return c == errc::conflict || remote_workflows::transient(c);
}

bool fail(event_wait& w, std::string type, std::string text) {
  w.deliver(outcome::failure(std::move(type), std::move(text)), {});
  return true;
}

bool fail_with(event_wait& w, const perdure::status& st,
               const std::string& what) {
  return fail(w, "perdure::" + std::string{to_string(st.code())},
              fmt::format("{}: {}", what, st.message()));
}

// The parent's children stream names `id` as w's child: read it, else
// append it (the outbox entry, before anything happens elsewhere).
perdure::status record(engine& eng, event_wait& w, const std::string& id,
                       children_index& kids) {
  auto known = kids.has(*eng.event_log(), w.workflow, w.step, id);
  if (!known)
    return known.error();
  if (*known)
    return {};
  rec::child_started link{w.workflow, w.step, id};
  auto done = eng.submit_batch({}, [&](eventlog::write_batch& b) {
    b.append(rec::children_stream(w.workflow), rec::child_started_kind,
             codec::encode(link));
  });
  if (!done)
    return done.error();
  kids.add(w.workflow, w.step, id);
  return {};
}

} // namespace

bool look_remote(engine& eng, remote_workflows& remote, event_wait& w,
                 const std::string& id, remote_child_wait& s,
                 children_index& kids) {
  auto what = fmt::format("child workflow '{}'", id);
  if (!s.recorded) {
    // conflict: the log refused the commit (on a cluster, another node
    // claimed the parent's partition): this engine closes soon.
    if (auto st = record(eng, w, id, kids); !st)
      return again(st.code()) ? later(s)
                              : fail_with(w, st, "cannot record " + what);
    s.recorded = true;
  }
  if (!s.started) {
    auto graph = decode_value<std::string>(w.inputs[1].bytes);
    if (!graph)
      return fail(w, "perdure::corruption", graph.error().message());
    auto st = remote.start_child(id, *graph, w.workflow, w.step);
    if (!st)
      return remote_workflows::transient(st.code())
                 ? later(s)
                 : fail_with(w, st, "cannot start " + what);
    s.started = true;
    s.pause = {};
    // The parent was canceled while its child started: its cancel read
    // the children stream (which names this child) and asked it to stop
    // before it existed, so ask again.
    if (auto p = eng.try_status(w.workflow);
        p && *p == workflow_status::canceled)
      (void)remote.cancel(id);
  }
  auto st = remote.status(id);
  if (!st) {
    if (st.error() == errc::not_found)
      s.started = false; // removed meanwhile: it is started again
    else if (!again(st.error().code()))
      return fail_with(w, st.error(), "cannot follow " + what);
    return later(s);
  }
  switch (*st) {
  case workflow_status::successful: {
    auto out = remote.output_bytes(id);
    if (!out)
      return again(out.error().code())
                 ? later(s)
                 : fail_with(w, out.error(), "cannot read " + what);
    std::vector<input> in(1);
    in[0].bytes = std::move(*out);
    w.deliver(w.def->invoke(in), {});
    return true;
  }
  case workflow_status::failed: {
    auto why = remote.failure(id);
    if (!why && again(why.error().code()))
      return later(s);
    return fail(
        w, "perdure::workflow_failed",
        fmt::format("{} failed: {}", what, why ? *why : why.error().message()));
  }
  case workflow_status::canceled:
    return fail(w, "perdure::workflow_canceled", what + " was canceled");
  case workflow_status::resumable:
    // Its engine did not resume it (it could not, or it stopped with
    // its parent): ask once per look.
    (void)remote.resume(id);
    return later(s);
  case workflow_status::running:
    return later(s);
  }
  return later(s);
}

} // namespace perdure::detail
