// SPDX-License-Identifier: Apache-2.0
// An actor call that reached the owner of the actor's partition (through
// its door, or made there): the class and method are looked up by name
// among the classes this host serves, and the call runs as an actor_ref's
// would, with the caller's idempotency key.

#include "perdure/cluster/actor_calls.hpp"

#include <fmt/format.h>

namespace perdure::cluster {

namespace {

using call_request = std::tuple<std::string, std::string, std::string>;
using chained_request =
  std::tuple<std::string, std::string, std::string, actor_call_path>;

// encode_actor_call's bytes: without the methods waiting on the call
// (none wait: the common case, tried first), or with them.
result<chained_request> decode_call(const std::string& bytes) {
  if (auto req = codec::decode<call_request>(bytes)) {
    auto& [cls, key, args] = *req;
    return chained_request{std::move(cls), std::move(key), std::move(args),
                           {}};
  }
  return codec::decode<chained_request>(bytes);
}

status with_actor(const std::string& id, status st) {
  return {st.code(), fmt::format("actor '{}': {}", id, st.message())};
}

const served_class* find_class(const std::vector<served_class>& classes,
                               std::string_view name) {
  for (auto& c : classes)
    if (c.cls->name == name)
      return &c;
  return nullptr;
}

result<std::string> serve_call(const std::vector<served_class>& classes,
                               engine& eng, const std::string& id,
                               const std::string& method,
                               const std::string& bytes,
                               std::chrono::milliseconds wait) {
  auto req = decode_call(bytes);
  if (!req)
    return unexpected{with_actor(
      id, {errc::invalid_argument,
           "the forwarded call does not decode: " + req.error().message()})};
  auto& [cls_name, key, args, waiting] = *req;
  auto* served = find_class(classes, cls_name);
  if (!served)
    return unexpected{with_actor(
      id, {errc::invalid_argument,
           fmt::format("class '{}' is not served on this node "
                       "(engine_host_options::actor_calls = "
                       "served_actors<...>(): every node serves the same "
                       "classes)",
                       cls_name)})};
  auto* entry = served->cls->find(std::string_view{method});
  if (!entry)
    return unexpected{with_actor(
      id, {errc::invalid_argument,
           fmt::format("class '{}' has no method '{}' on this node",
                       cls_name, method)})};
  auto cell = detail::resolve_actor(eng, id, *served->cls,
                                    served->make ? &served->make : nullptr);
  if (!cell)
    return std::move(cell).error();
  if (entry->readonly) {
    auto state = detail::committed_state(**cell);
    if (!state)
      return std::move(state).error();
    auto r = entry->read(state->get(), args);
    if (!r)
      return unexpected{with_actor(id, std::move(r).error())};
    return r;
  }
  if (key.empty())
    return unexpected{with_actor(
      id, {errc::invalid_argument,
           "a forwarded mutating call needs an idempotency key"})};
  auto done = std::make_shared<detail::call_state>();
  detail::mutation mu;
  mu.method = entry;
  mu.args = std::move(args);
  mu.key = std::move(key);
  if (!waiting.empty()) // checked for a cycle here, passed on by the method
    mu.chain = std::make_shared<const detail::call_chain>(std::move(waiting));
  mu.done = done;
  detail::submit_mutation(**cell, std::move(mu));
  // Answer within the sender's wait; the call goes on, and the sender's
  // next try with the same key finds it logged (or queued behind it).
  if (!done->wait_for(wait))
    return unexpected{with_actor(
      id, {errc::timeout,
           fmt::format("{} was not durable within {} ms (retry with the "
                       "same key)",
                       method, wait.count())})};
  return done->wait();
}

} // namespace

actor_call_handler serve_actor_classes(std::vector<served_class> classes) {
  auto shared =
    std::make_shared<const std::vector<served_class>>(std::move(classes));
  return [shared](engine& eng, const std::string& id,
                  const std::string& method, const std::string& bytes,
                  std::chrono::milliseconds wait) -> result<std::string> {
    if (id.empty()) {
      // The partition's engine opened: what its actors told to these
      // classes may go out.
      for (auto& c : *shared)
        detail::learn_class(eng, *c.cls);
      return std::string{};
    }
    return serve_call(*shared, eng, id, method, bytes, wait);
  };
}

} // namespace perdure::cluster
