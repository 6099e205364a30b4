// SPDX-License-Identifier: Apache-2.0
// Actors that live elsewhere (engine_options::remote: another partition's
// engine on a cluster). Their cells are never active here: a readonly call
// is answered where the actor lives on the caller's thread, mutating calls
// made through one cell are sent one after another from a task on the
// actors' pool, each with its idempotency key (derived from the calling
// method's or step's key, so a method or step that runs again repeats the
// call instead of making it twice). A worker waiting for the answer gives
// its thread up meanwhile, as for a call to a local actor.

#include "actor_internal.hpp"
#include "actor_pool.hpp"
#include "actor_runner.hpp"

namespace perdure::detail {

namespace {

status closing_error(const actor_cell& c) {
  return {errc::closed,
          fmt::format("actor '{}': the engine is shutting down", c.id)};
}

// Sends what `c` holds until none is left.
void drain(const std::shared_ptr<actor_cell>& c) {
  for (;;) {
    mutation m;
    {
      std::lock_guard guard{c->mu};
      if (c->outgoing.empty()) {
        c->sending = false;
        return;
      }
      m = std::move(c->outgoing.front());
      c->outgoing.pop_front();
    }
    if (m.value)
      m.args = m.method->encode_tuple(m.value.get());
    m.done->complete(
      call_remote(*c, *m.method, m.key, std::move(m.args), m.chain.get()));
  }
}

} // namespace

std::shared_ptr<actor_cell>
remote_cell(std::shared_ptr<actor_service> svc, std::string_view id,
            const actor_class& cls, std::shared_ptr<remote_workflows> remote) {
  auto c = std::make_shared<actor_cell>();
  c->svc = std::move(svc);
  c->id = std::string{id};
  c->stream = stream_of(id);
  c->cls = &cls;
  c->remote = std::move(remote);
  return c;
}

bool is_remote(const actor_cell& c) {
  return c.remote != nullptr;
}

result<std::string> call_remote(actor_cell& c, const method_entry& m,
                                const std::string& key, std::string args,
                                const call_chain* waiting) {
  blocking_scope blocking; // at the bound: waits anyway, it is bounded
  static const call_chain none;
  return c.remote->call_actor(c.id, c.cls->name, m.name, key, std::move(args),
                              waiting ? *waiting : none);
}

void send_remote(actor_cell& c, std::vector<mutation> ms) {
  c.svc->mutating_calls->inc(ms.size());
  {
    std::lock_guard guard{c.mu};
    for (auto& m : ms)
      c.outgoing.push_back(std::move(m));
    if (c.sending)
      return;
    c.sending = true;
  }
  auto& pool = c.svc->pool;
  if (pool && pool->post([self = c.shared_from_this()] { drain(self); }))
    return;
  std::deque<mutation> left;
  {
    std::lock_guard guard{c.mu};
    left.swap(c.outgoing);
    c.sending = false;
  }
  for (auto& m : left)
    m.done->complete(closing_error(c), {});
}

} // namespace perdure::detail
