// SPDX-License-Identifier: Apache-2.0
// engine_host's requests: request() (here or at the owner's door),
// request_async() on the host's request_queue, and the hand-over at stop.

#include "engine_host_impl.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace perdure::cluster {

result<std::string> engine_host::request(request_kind kind, std::string_view id,
                                         std::string_view name,
                                         std::string bytes) {
  return forward_request(*this, impl_->door.get(), impl_->options, kind, id,
                         name, std::move(bytes),
                         impl_->options.forward_deadline);
}

std::optional<std::uint16_t> engine_host::door_port() const noexcept {
  if (!impl_->door)
    return std::nullopt;
  return impl_->door->port();
}

void engine_host::request_async(request_kind kind, std::string_view id,
                                std::string_view name, std::string bytes,
                                std::function<void(result<std::string>)> done) {
  impl_->async->submit(
      std::string{id},
      [this, kind, id = std::string{id}, name = std::string{name},
       bytes = std::move(bytes)]() mutable {
        return request(kind, id, name, std::move(bytes));
      },
      std::move(done));
}

void engine_host::impl::hand_over() {
  auto wait = options.handover_wait;
  auto parts = n->partitions();
  auto led = [](const std::vector<partition_status>& ps) {
    return std::any_of(ps.begin(), ps.end(), [](const auto& s) {
      return s.role == owner_role::leader;
    });
  };
  bool alone = std::all_of(parts.begin(), parts.end(),
                           [](const auto& s) { return s.assigned; });
  if (wait.count() <= 0 || alone || !led(parts))
    return;
  log_line(eventlog::log_level::info,
           fmt::format("node {}: handing its partitions over (up to {} ms)",
                       to_string(n->self()), wait.count()));
  // The worker closes each engine as its partition's new claim is read:
  // true once none is open or led here, false at `until`.
  auto handed_over = [&](std::chrono::steady_clock::time_point until) {
    std::unique_lock guard{mutex};
    for (;;) {
      bool open = std::any_of(engines.begin(), engines.end(),
                              [](const hosted& e) { return e.eng != nullptr; });
      guard.unlock();
      bool leads = led(n->partitions());
      guard.lock();
      if (!open && !leads)
        return true;
      if (std::chrono::steady_clock::now() >= until)
        return false;
      wake.wait_for(guard, std::chrono::milliseconds{5});
    }
  };
  auto now = std::chrono::steady_clock::now();
  auto deadline = now + wait;
  // First the hosts watching this door claim its partitions (the take-
  // over's successor of each, as for a dead process), while the node
  // stays in the group claiming nothing: leaving it closes the consumer,
  // which holds up the poll thread that reads those claims. What they do
  // not take within a fifth of the wait goes through the group.
  if (door && door->watching() > 0) {
    n->stop_claiming();
    door->leave();
    if (handed_over(std::min(deadline, now + wait / 5)))
      return; // node::stop leaves the group
  }
  n->leave();
  handed_over(deadline);
}

} // namespace perdure::cluster
