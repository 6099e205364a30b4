// SPDX-License-Identifier: Apache-2.0
// node: start, the poll thread (group, submissions, every owner in turn),
// submit, the published state, stop.

#include "node_impl.hpp"

#include <fmt/format.h>

#include <unistd.h>

namespace perdure::cluster {

namespace {

using namespace std::chrono_literals;

std::uint64_t make_incarnation() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  auto v = static_cast<std::uint64_t>(ns)
           ^ (static_cast<std::uint64_t>(::getpid()) << 44);
  return v != 0 ? v : 1;
}

// Group properties the node sets itself.
status check_group_properties(const node_options& o) {
  for (auto& [k, v] : o.group_properties) {
    if (k == "group.id" || k == "bootstrap.servers"
        || k == "enable.auto.commit" || k == "partition.assignment.strategy")
      return {errc::invalid_argument,
              fmt::format("node group property '{}' is set by the node "
                          "(group perdure.<app>, the log's brokers, no "
                          "committed offsets, eager assignment)",
                          k)};
  }
  return {};
}

bool same_view(const partition_status& a, const partition_status& b) {
  return a.assigned == b.assigned && a.role == b.role && a.epoch == b.epoch
         && a.owner == b.owner && a.owner_endpoint == b.owner_endpoint
         && a.tailing == b.tailing;
}

void add(owner_counters& to, const owner_counters& c) {
  to.claims_appended += c.claims_appended;
  to.led += c.led;
  to.fenced += c.fenced;
  to.barriers_appended += c.barriers_appended;
  to.groups_effective += c.groups_effective;
  to.groups_failed += c.groups_failed;
  to.claims_dropped += c.claims_dropped;
}

} // namespace

eventlog::options default_node_store() {
  eventlog::options o;
  o.mode = eventlog::durability::process;
  o.initial_map_size = std::size_t{1} << 20;
  return o;
}

// The largest group a record of `max_record` bytes carries: the group
// entry's own fields, and room for Kafka's record framing.
std::size_t max_group_bytes(std::size_t max_record,
                            const node_identity& self) {
  constexpr std::size_t kafka_framing = 512;
  auto entry = encode(group_entry{.epoch = no_epoch,
                                  .writer = self,
                                  .sequence = ~std::uint64_t{0},
                                  .bytes = {}})
                 .size();
  return max_record > entry + kafka_framing + 1024
           ? max_record - entry - kafka_framing
           : 1024;
}

std::filesystem::path partition_dir(const std::filesystem::path& root,
                                    partition_id p) {
  return root / fmt::format("p-{:04}", p);
}

node::impl::~impl() {
  // Only when start() failed: stop() closed and destroyed it otherwise.
  if (consumer)
    rd_kafka_destroy_flags(consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

void node::impl::log_line(eventlog::log_level level,
                          const std::string& text) const {
  eventlog::emit(options.log.log, level, text);
}

void node::impl::run() {
  for (;;) {
    bool leave_now = false;
    {
      std::lock_guard guard{mutex};
      if (stopping)
        break;
      leave_now = leaving && !left;
      no_claims = leaving || claims_stopped;
    }
    if (leave_now)
      leave_group(false); // `left` is the poll thread's
    bool busy = round();
    publish();
    if (!busy) {
      std::unique_lock guard{mutex};
      wake.wait_for(guard, options.idle_wait, [&] {
        return stopping || !queue.empty() || readable;
      });
    }
  }
  leave_group(true);
  publish();
}

bool node::impl::round() {
  bool busy = serve_group();
  std::vector<submission> now;
  std::vector<std::pair<partition_id, log_offset>> take;
  {
    std::lock_guard guard{mutex};
    now.swap(queue);
    take.swap(take_overs);
    readable = false; // a record coming from now on wakes the next round
  }
  for (auto [p, over] : take)
    if (p < owners.size() && !no_claims // also once left: leaving
        && owners[p]->role() == owner_role::follower) {
      log_line(eventlog::log_level::info,
               fmt::format("node {}: taking partition {} over from epoch {} "
                           "(its owner's process is gone)",
                           to_string(self), p, over));
      owners[p]->claim(over);
    }
  for (auto& s : now)
    owners[s.partition]->submit(std::move(s.bytes), std::move(s.done));
  busy = busy || !now.empty();
  pick_standbys();
  for (std::size_t p = 0; p < owners.size(); ++p) {
    auto& o = *owners[p];
    // Assigned but following: another node's claim fenced this one (a
    // claim of a node the group revoked landed late, or a paused node
    // came back). The group says this node should own it: claim again.
    if (assigned[p] && !no_claims && o.role() == owner_role::follower)
      o.claim();
    // Catching up starts with the log's end offset: a network round trip,
    // waited for only then.
    auto wait = o.role() == owner_role::catching_up ? 50ms : 0ms;
    auto r = o.poll(wait);
    if (r) {
      busy = busy || *r > 0;
      last_error[p].clear();
      continue;
    }
    ++group_counters.poll_errors;
    if (r.error().message() != last_error[p]) {
      last_error[p] = r.error().message();
      log_line(eventlog::log_level::warning,
               fmt::format("node {}: partition {}: {} (retrying)",
                           to_string(self), p, r.error().to_string()));
    }
  }
  return busy;
}

void node::impl::publish(bool notify) {
  std::vector<partition_status> now(owners.size());
  node_counters c = group_counters;
  for (std::size_t p = 0; p < owners.size(); ++p) {
    auto& o = *owners[p];
    auto& s = now[p];
    s.partition = static_cast<partition_id>(p);
    s.assigned = assigned[p];
    s.role = o.role();
    s.epoch = o.view().epoch;
    s.owner = o.view().owner;
    s.owner_endpoint = o.view().owner_endpoint;
    s.next = o.state().next;
    s.pending = o.pending();
    s.tailing = o.tailing();
    add(c.owners, o.counters());
  }
  std::vector<partition_status> changed, before;
  {
    std::lock_guard guard{mutex};
    for (std::size_t p = 0; p < now.size(); ++p)
      if (snapshot.size() != now.size() || !same_view(snapshot[p], now[p]))
        changed.push_back(now[p]);
    before = std::exchange(snapshot, now);
    counters = c;
  }
  watch_claims(before, now);
  if (notify && options.on_change)
    for (auto& s : changed)
      options.on_change(s);
}

void node::impl::watch_claims(const std::vector<partition_status>& before,
                              const std::vector<partition_status>& now) {
  auto t = std::chrono::steady_clock::now();
  for (std::size_t p = 0; p < now.size(); ++p) {
    const auto& s = now[p];
    bool claiming = s.role == owner_role::catching_up
                    || s.role == owner_role::claiming;
    auto was = p < before.size() ? before[p].role : owner_role::follower;
    if (s.role != was) {
      log_line(eventlog::log_level::info,
               fmt::format("node {}: partition {}: {} -> {} (epoch {} of "
                           "{}, next {})",
                           to_string(self), p, to_string(was),
                           to_string(s.role), s.epoch, to_string(s.owner),
                           s.next));
      if (claiming && was != owner_role::catching_up
          && was != owner_role::claiming) {
        claiming_since[p] = t;
        claim_reported[p] = false;
      }
    }
    auto warn = options.claim_warn;
    if (!claiming || claim_reported[p] || warn.count() <= 0
        || t - claiming_since[p] < warn)
      continue;
    claim_reported[p] = true;
    auto end = log->partition(static_cast<std::int32_t>(p)).known_end();
    log_line(eventlog::log_level::warning,
             fmt::format("node {}: partition {}: {} for over {} ms (its "
                         "replica at {}, the log's end {}): the claim is "
                         "not read back yet",
                         to_string(self), p, to_string(s.role), warn.count(),
                         s.next,
                         end ? std::to_string(*end)
                             : std::string{"not known"}));
  }
}

result<std::unique_ptr<node>> node::start(node_options o) {
  if (o.node_id.empty() || o.node_id.size() > max_node_id_size)
    return unexpected{errc::invalid_argument,
                      fmt::format("node id must be 1 to {} bytes (got {})",
                                  max_node_id_size, o.node_id.size())};
  if (o.endpoint.size() > max_endpoint_size)
    return unexpected{errc::invalid_argument,
                      fmt::format("node endpoint must be at most {} bytes "
                                  "(got {})",
                                  max_endpoint_size, o.endpoint.size())};
  if (o.store.dir.empty())
    return unexpected{errc::invalid_argument,
                      "node store dir is empty (the root of the "
                      "partitions' stores)"};
  if (auto st = check_group_properties(o); !st)
    return st;
  if (o.store.replicator)
    return unexpected{errc::invalid_argument,
                      "node store options: the replicator is the node's"};
  std::error_code ec;
  std::filesystem::create_directories(o.store.dir, ec);
  if (ec)
    return unexpected{errc::io,
                      fmt::format("node store dir {}: {}",
                                  o.store.dir.string(), ec.message())};
  auto n = std::make_unique<impl>();
  n->options = std::move(o);
  n->self = {n->options.node_id, n->options.incarnation != 0
                                     ? n->options.incarnation
                                     : make_incarnation()};
  auto log = kafka_log::open(n->options.log);
  if (!log)
    return log.error();
  n->log = std::move(*log);
  if (const auto& needs = n->options.topic_needs) {
    auto d = n->log->describe(n->options.log.open_timeout,
                              n->options.topic_configs_wait);
    if (!d)
      return d.error();
    if (auto fit = check_kafka_topic(*d, *needs); !fit)
      return unexpected{errc::invalid_argument,
                        fmt::format("the log topic {} does not fit "
                                    "perdure's durability needs (node_"
                                    "options::topic_needs): {}",
                                    d->topic, fit.message())};
    if (!d->configs && n->options.topic_configs_wait.count() > 0)
      n->log_line(eventlog::log_level::warning,
                  fmt::format("node {}: the log topic's configs were not "
                              "verified ({}); `perdure cluster check` "
                              "verifies them",
                              to_string(n->self), d->configs_error));
  }
  auto count = n->log->partition_count();
  auto max_group = max_group_bytes(n->log->max_record_bytes(), n->self);
  for (std::int32_t p = 0; p < count; ++p) {
    auto id = static_cast<partition_id>(p);
    auto so = n->options.store;
    so.dir = partition_dir(n->options.store.dir, id);
    auto rep = std::make_shared<partition_replicator>(
      [raw = n.get(), id](std::string bytes, group_done done) {
        raw->submit(id, std::move(bytes), std::move(done));
      },
      max_group);
    so.replicator = rep;
    auto store = lmdb_replica_store::open(std::move(so));
    if (!store)
      return unexpected{store.error().code(),
                        fmt::format("the store of partition {}: {}", p,
                                    store.error().message())};
    (*store)->on_applied(
      [rep](log_offset at,
            std::span<const result<eventlog::commit_info>> results) {
        rep->applied(at, results);
      });
    n->replicators.push_back(std::move(rep));
    n->stores.push_back(std::move(*store));
    n->owners.push_back(std::make_unique<partition_owner>(
        n->log->partition(p), *n->stores.back(),
        owner_options{.partition = id,
                      .self = n->self,
                      .endpoint = n->options.endpoint,
                      .read_batch = n->options.read_batch}));
    if (auto st = n->owners.back()->open(); !st)
      return unexpected{st.code(),
                        fmt::format("partition {}: {}", p, st.message())};
  }
  n->partition_total = count;
  n->assigned.assign(n->owners.size(), false);
  n->last_error.assign(n->owners.size(), {});
  n->claiming_since.assign(n->owners.size(), {});
  n->claim_reported.assign(n->owners.size(), false);
  if (auto st = n->join_group(); !st)
    return st;
  n->publish(false);
  // A record read back wakes the poll thread at once: a sequential step
  // does not wait out idle_wait for its own group.
  for (std::int32_t p = 0; p < count; ++p)
    n->log->partition(p).on_readable([raw = n.get()] {
      std::lock_guard guard{raw->mutex};
      raw->readable = true;
      raw->wake.notify_all();
    });
  n->poller = std::thread{[raw = n.get()] { raw->run(); }};
  return std::unique_ptr<node>{new node{std::move(n)}};
}

node::node(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {
}

node::~node() {
  stop();
}

const node_identity& node::self() const noexcept {
  return impl_->self;
}

std::int32_t node::partition_count() const noexcept {
  return impl_->partitions();
}

void node::submit(partition_id p, std::string bytes, group_done done) {
  impl_->submit(p, std::move(bytes), std::move(done));
}

std::shared_ptr<eventlog::event_log> node::store(partition_id p) {
  std::lock_guard guard{impl_->mutex};
  if (impl_->stopped || p >= impl_->stores.size())
    return nullptr;
  return impl_->stores[p]->shared_log();
}

void node::impl::submit(partition_id p, std::string bytes, group_done done) {
  auto& n = *this;
  auto closed = [&] {
    done(status{errc::closed,
                fmt::format("node {} is stopped", to_string(n.self))});
  };
  bool ended = false;
  {
    // A stopped node has closed its log: it knows no partitions any more.
    std::lock_guard guard{n.mutex};
    ended = n.stopped || n.stopping;
  }
  if (ended) {
    closed();
    return;
  }
  if (p >= static_cast<partition_id>(n.partitions())) {
    done(status{errc::invalid_argument,
                fmt::format("no partition {} (the log has {})", p,
                            n.partitions())});
    return;
  }
  if (bytes.empty()) {
    done(status{errc::invalid_argument,
                "a group needs bytes (empty groups are barriers)"});
    return;
  }
  {
    std::lock_guard guard{n.mutex};
    if (!n.stopped && !n.stopping) {
      ++n.submitted;
      n.queue.push_back({p, std::move(bytes), std::move(done)});
      n.wake.notify_all();
      return;
    }
  }
  closed();
}

std::vector<partition_status> node::partitions() const {
  std::vector<partition_status> out;
  {
    std::lock_guard guard{impl_->mutex};
    out = impl_->snapshot;
  }
  // Asked here, not in every poll round: a gauge's value, read rarely.
  for (auto& s : out)
    s.log_end = impl_->log->partition(static_cast<std::int32_t>(s.partition))
                  .known_end();
  return out;
}

node_counters node::counters() const {
  std::lock_guard guard{impl_->mutex};
  auto c = impl_->counters;
  c.submitted = impl_->submitted;
  return c;
}

void node::take_over(partition_id p, log_offset over) {
  auto& n = *impl_;
  std::lock_guard guard{n.mutex};
  if (n.stopping || n.stopped || n.leaving || n.claims_stopped)
    return;
  n.take_overs.emplace_back(p, over);
  n.wake.notify_all();
}

void node::stop() {
  auto& n = *impl_;
  std::lock_guard once{n.stop_mutex};
  {
    std::lock_guard guard{n.mutex};
    if (n.stopped)
      return;
    n.stopping = true;
    n.wake.notify_all();
  }
  if (n.poller.joinable())
    n.poller.join();
  std::vector<impl::submission> left;
  {
    std::lock_guard guard{n.mutex};
    n.stopped = true;
    left.swap(n.queue);
  }
  for (auto& s : left)
    s.done(status{errc::closed,
                  fmt::format("node {} stopped before the group was "
                              "submitted",
                              to_string(n.self))});
  for (std::int32_t p = 0; n.log && p < n.partition_total; ++p)
    n.log->partition(p).on_readable({});
  // Pending groups fail with closed; acks still to come find no owner.
  n.owners.clear();
  if (n.log)
    n.log->close();
  if (n.consumer) {
    rd_kafka_destroy(n.consumer);
    n.consumer = nullptr;
  }
  // An engine may still hold a store: closed here all the same (its
  // writes fail closed from now on).
  for (auto& s : n.stores)
    static_cast<void>(s->log().close());
  std::lock_guard guard{n.mutex};
  n.stores.clear();
}

} // namespace perdure::cluster
