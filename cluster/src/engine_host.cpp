// SPDX-License-Identifier: Apache-2.0
// engine_host: a node, and an engine per partition it leads, opened and
// closed by the host's thread as the node reports role changes (never on
// the node's poll thread: an engine commits through it).

#include "engine_host_impl.hpp"

#include "at_once.hpp"
#include "engine_host_metrics.hpp"
#include "engine_keyed.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace perdure::cluster {

void engine_host::impl::run() {
  std::unique_lock guard{mutex};
  bool retry = false;
  for (;;) {
    auto due = [&] { return stopping || dirty; };
    if (retry)
      wake.wait_for(guard, options.retry_wait, due);
    else
      wake.wait(guard, due);
    if (stopping)
      return;
    dirty = false;
    guard.unlock();
    retry = reconcile();
    guard.lock();
  }
}

bool engine_host::impl::reconcile() {
  // What to close (lost, or a new epoch) and what to open (led, no
  // engine), decided together; then the closes and opens run at once.
  std::vector<std::pair<partition_id, hosted>> closing;
  std::vector<std::string_view> why;
  std::vector<partition_status> opening;
  auto parts = n->partitions();
  if (door && options.take_over_gone_owners)
    watch_owners(*door, *n, parts);
  for (const auto& s : parts) {
    auto p = s.partition;
    bool lead = s.role == owner_role::leader;
    std::lock_guard guard{mutex};
    if (stopping)
      return false;
    // A new epoch while leading: the node lost and claimed it again;
    // the engine's state in memory is older than the store's.
    if (engines[p].eng && (!lead || engines[p].epoch != s.epoch)) {
      closing.emplace_back(p, std::exchange(engines[p], {}));
      closing_engines.push_back(closing.back().second);
      why.push_back(lead ? "claimed again (a new epoch)" : "lost");
    }
    if (lead && !engines[p].eng)
      opening.push_back(s);
  }
  for_each_at_once(closing.size(), [&](std::size_t i) {
    close_engine(closing[i].first, std::move(closing[i].second), why[i]);
  });
  std::vector<char> failed(opening.size(), 0);
  for_each_at_once(opening.size(), [&](std::size_t i) {
    failed[i] = open_engine(opening[i]) ? 0 : 1;
  });
  return std::find(failed.begin(), failed.end(), 1) != failed.end();
}

bool engine_host::impl::open_engine(const partition_status& s) {
  auto p = s.partition;
  auto store = n->store(p);
  if (!store)
    return true; // the node is stopping
  {
    std::lock_guard guard{mutex};
    opening[p] = {store.get(), s.epoch};
  }
  log_line(eventlog::log_level::info,
           fmt::format("node {}: partition {}: opening its engine (epoch {})",
                       to_string(n->self()), p, s.epoch));
  auto eo = options.engine;
  eo.event_log = std::move(store);
  eo.accept_id = [map = *this->map, p, user = options.engine.accept_id](
                   std::string_view id) -> status {
    if (auto q = map.partition_of(id); q != p)
      return status{errc::conflict,
                    fmt::format("'{}' lives in partition {}, not in {} "
                                "(this engine's): reach it through its "
                                "partition's owner (engine_host)",
                                id, q, p)};
    return user ? user(id) : status{};
  };
  // Children of another partition are started and followed there.
  eo.remote = make_remote_children(link, *this->map, p);
  auto opened = engine::open(std::move(eo));
  if (opened && options.actor_calls) // its classes known: outboxes send
    (void) options.actor_calls(**opened, {}, {}, {}, {});
  std::lock_guard guard{mutex};
  opening[p] = {nullptr, no_epoch};
  if (!opened) {
    ++counts.open_failures;
    log_line(eventlog::log_level::warning,
             fmt::format("node {}: partition {}: the engine did not open "
                         "(retrying): {}",
                         to_string(n->self()), p, opened.error().to_string()));
    return false;
  }
  // Lost meanwhile: the node's change set `dirty`, the next round
  // closes it.
  engines[p] = {std::shared_ptr<engine>{std::move(*opened)}, s.epoch};
  ++counts.opened;
  log_line(eventlog::log_level::info,
           fmt::format("node {}: partition {}: engine open (epoch {})",
                       to_string(n->self()), p, s.epoch));
  return true;
}

void engine_host::impl::close_engine(partition_id p, hosted h,
                                     std::string_view why) {
  auto st = h.eng->close();
  {
    std::lock_guard guard{mutex};
    ++counts.closed;
    std::erase_if(closing_engines, [&](auto& c) { return c.eng == h.eng; });
  }
  log_line(st ? eventlog::log_level::info : eventlog::log_level::warning,
           fmt::format("node {}: partition {} {}: engine closed{}",
                       to_string(n->self()), p, why,
                       st ? std::string{} : ": " + st.to_string()));
}

result<std::unique_ptr<engine_host>>
engine_host::start(engine_host_options options) {
  if (options.engine.event_log)
    return unexpected{errc::invalid_argument,
                      "engine_host_options::engine.event_log must be unset: "
                      "the host opens each engine on its partition's store"};
  if (!options.engine.metrics_address.empty()
      || !options.engine.ui_address.empty())
    return unexpected{errc::invalid_argument,
                      "engine_host_options::engine: metrics_address and "
                      "ui_address must be unset (each partition's engine "
                      "would listen); set engine_host_options::"
                      "metrics_address: one /metrics for every engine"};
  auto h = std::make_unique<impl>();
  h->options = std::move(options);
  h->async = std::make_unique<request_queue>(h->options.async_threads);
  if (!h->options.serve_address.empty()) {
    auto door = engine_door::start(
      h->options.serve_address,
      [raw = h.get()](std::uint8_t kind, const std::string& id,
                      const std::string& name,
                      const std::string& bytes) -> result<std::string> {
        auto* host = raw->self.load();
        if (!host)
          return unexpected{errc::busy, "the node is starting (retry)"};
        ++raw->door->served;
        return serve_request(*host, raw->options,
                             static_cast<request_kind>(kind), id, name,
                             bytes);
      },
      h->options.take_over_gone_owners ? h->options.suspect_after
                                       : std::chrono::milliseconds{0});
    if (!door)
      return std::move(door).error();
    h->door = std::move(*door);
    h->options.node.endpoint = h->door->endpoint();
  }
  auto node_opts = h->options.node;
  node_opts.on_change = [raw = h.get(),
                         user = std::move(node_opts.on_change)](
                          const partition_status& s) {
    if (user)
      user(s);
    raw->changed();
  };
  auto n = node::start(std::move(node_opts));
  if (!n)
    return n.error();
  h->n = std::move(*n);
  auto map = partition_map::create(
      static_cast<std::uint32_t>(h->n->partition_count()),
      h->options.separator);
  if (!map)
    return map.error();
  h->map = *map;
  h->engines.resize(static_cast<std::size_t>(h->n->partition_count()));
  h->opening.assign(h->engines.size(), {nullptr, no_epoch});
  auto* raw = h.get();
  std::unique_ptr<engine_host> host{new engine_host{std::move(h)}};
  raw->self = host.get();
  raw->link->host = host.get();
  raw->link->door = raw->door.get();
  raw->link->options = &raw->options;
  add_host_metrics(raw->registry, *host);
  if (!raw->options.metrics_address.empty()) {
    auto srv = metrics::server::start(
      raw->options.metrics_address,
      [self = host.get()] { return self->metrics_text(); });
    if (!srv)
      return srv.error(); // ~engine_host stops the node
    raw->http = std::move(*srv);
  }
  raw->worker = std::thread{[raw] { raw->run(); }};
  return host;
}

engine_host::engine_host(std::unique_ptr<impl> impl)
    : impl_(std::move(impl)) {
}

engine_host::~engine_host() {
  stop();
}

void engine_host::stop() {
  auto& h = *impl_;
  std::lock_guard once{h.stop_mutex};
  std::vector<hosted> left;
  {
    std::lock_guard guard{h.mutex};
    if (h.stopped)
      return;
  }
  h.hand_over();
  {
    std::lock_guard guard{h.mutex};
    h.stopping = true;
  }
  h.async->close(); // calls not sent yet end closed
  h.http.reset();
  // The door takes no more requests (those it serves end as engines close).
  if (h.door)
    h.door->close();
  h.wake.notify_all();
  if (h.worker.joinable())
    h.worker.join();
  {
    std::lock_guard guard{h.mutex};
    left.swap(h.engines);
  }
  // Engines first, at once: their last commits go through the node.
  std::vector<partition_id> open;
  for (std::size_t p = 0; p < left.size(); ++p)
    if (left[p].eng)
      open.push_back(static_cast<partition_id>(p));
  for_each_at_once(open.size(), [&](std::size_t i) {
    h.close_engine(open[i], std::move(left[open[i]]), "stopping");
  });
  h.n->stop();
  if (h.door)
    h.door->wait();
  h.async->join(); // its requests end closed now (engine_for)
  {
    std::unique_lock unlinked{h.link->mutex};
    h.link->host = nullptr;
  }
  std::lock_guard guard{h.mutex};
  h.stopped = true;
}

std::string new_request_key(engine_host& host) {
  return fmt::format("{}:{}", to_string(host.cluster_node().self()),
                     ++host.impl_->keys);
}

std::mutex& keyed_lock(engine_host& host, const std::string& id) {
  auto& locks = host.impl_->keyed;
  return locks[std::hash<std::string>{}(id) % locks.size()];
}

node& engine_host::cluster_node() noexcept {
  return *impl_->n;
}

const node& engine_host::cluster_node() const noexcept {
  return *impl_->n;
}

const partition_map& engine_host::routing() const noexcept {
  return *impl_->map;
}

std::shared_ptr<engine> engine_host::engine_of(partition_id p) const {
  std::lock_guard guard{impl_->mutex};
  if (p >= impl_->engines.size())
    return nullptr;
  return impl_->engines[p].eng;
}

result<std::shared_ptr<engine>>
engine_host::engine_for(std::string_view id) const {
  auto& h = *impl_;
  auto p = h.map->partition_of(id);
  {
    std::lock_guard guard{h.mutex};
    if (h.stopping)
      return unexpected{errc::closed,
                        fmt::format("node {} stopped",
                                    to_string(h.n->self()))};
    if (h.engines[p].eng)
      return h.engines[p].eng;
  }
  auto parts = h.n->partitions();
  const auto& s = parts.at(p);
  if (s.role != owner_role::leader && !s.owner.node.empty()
      && s.owner != h.n->self())
    return unexpected{errc::conflict,
                      fmt::format("'{}' lives in partition {}, led by node "
                                  "{} (epoch {})",
                                  id, p, to_string(s.owner), s.epoch)};
  return unexpected{errc::busy,
                    fmt::format("'{}' lives in partition {}: {} (retry)",
                                id, p,
                                s.role == owner_role::leader
                                    ? "its engine is opening on this node"
                                    : "no node leads it yet")};
}

std::optional<log_offset> engine_host::epoch_of(const engine& eng) const {
  std::lock_guard guard{impl_->mutex};
  for (const auto* held : {&impl_->engines, &impl_->closing_engines})
    for (const auto& h : *held)
      if (h.eng.get() == &eng)
        return h.epoch;
  // Being opened (a workflow it resumes runs before open returns): the
  // engines of a partition close before its next opens, so an engine on
  // that store and not held is the one opening.
  for (const auto& [store, epoch] : impl_->opening)
    if (store && store == eng.event_log().get())
      return epoch;
  return std::nullopt;
}

std::vector<partition_id> engine_host::running() const {
  std::lock_guard guard{impl_->mutex};
  std::vector<partition_id> out;
  for (std::size_t p = 0; p < impl_->engines.size(); ++p)
    if (impl_->engines[p].eng)
      out.push_back(static_cast<partition_id>(p));
  return out;
}

std::string engine_host::metrics_text() const {
  std::vector<std::pair<partition_id, std::shared_ptr<engine>>> open;
  {
    std::lock_guard guard{impl_->mutex};
    for (std::size_t p = 0; p < impl_->engines.size(); ++p)
      if (impl_->engines[p].eng)
        open.emplace_back(static_cast<partition_id>(p),
                          impl_->engines[p].eng);
  }
  std::vector<metrics::exposition_part> parts{{&impl_->registry, {}}};
  for (auto& [p, eng] : open)
    parts.push_back({&eng->metrics(), {{"partition", std::to_string(p)}}});
  return metrics::expose(parts);
}

metrics::registry& engine_host::metrics() const noexcept {
  return impl_->registry;
}

std::optional<std::uint16_t> engine_host::metrics_port() const noexcept {
  if (!impl_->http)
    return std::nullopt;
  return impl_->http->port();
}

engine_host_counters engine_host::counters() const {
  std::lock_guard guard{impl_->mutex};
  auto c = impl_->counts;
  if (auto* d = impl_->door.get()) {
    c.forwarded = d->forwarded;
    c.forward_retries = d->forward_retries;
    c.served = d->served;
    c.taken_over = d->taken_over;
    c.door_watches = d->watched_by();
    c.door_watchers = d->watching();
  }
  return c;
}

} // namespace perdure::cluster
