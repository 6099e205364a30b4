// SPDX-License-Identifier: Apache-2.0
#include "engine_door.hpp"

#include "perdure/cluster/takeover.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace perdure::cluster {

namespace {

using forward_atom = caf::atom_constant<caf::atom("forward")>;
using answer_atom = caf::atom_constant<caf::atom("answer")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using leaving_atom = caf::atom_constant<caf::atom("leaving")>;

result<std::pair<std::string, std::uint16_t>>
split_endpoint(std::string_view address) {
  auto colon = address.rfind(':');
  unsigned long port = 0;
  if (colon == std::string_view::npos || colon == 0
      || colon + 1 == address.size())
    return unexpected{errc::invalid_argument,
                      fmt::format("'{}' is not host:port", address)};
  try {
    std::size_t used = 0;
    auto digits = std::string{address.substr(colon + 1)};
    port = std::stoul(digits, &used);
    if (used != digits.size() || port > 65535)
      throw std::out_of_range{"port"};
  } catch (const std::exception&) {
    return unexpected{errc::invalid_argument,
                      fmt::format("'{}' is not host:port", address)};
  }
  return std::pair{std::string{address.substr(0, colon)},
                   static_cast<std::uint16_t>(port)};
}

// CAF points a thread's logger reference at the system a scoped actor or
// remote_actor() runs in, and ~actor_system() waits until no thread holds
// it. A caller's thread is not the door's: it must not keep the door's
// system (or an engine's, see runtime/src/actor_host.cpp) from stopping.
// CAF is built without logging: a thread without a reference loses nothing.
class caller_thread_guard {
 public:
  explicit caller_thread_guard(caf::actor_system& sys)
      : own_(caf::logger::current_logger() == &sys.logger()) {}
  caller_thread_guard(const caller_thread_guard&) = delete;
  caller_thread_guard& operator=(const caller_thread_guard&) = delete;
  ~caller_thread_guard() {
    if (!own_)
      caf::logger::set_current_actor_system(nullptr);
  }

 private:
  bool own_;
};

} // namespace

struct engine_door::impl {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor door;
  std::string endpoint;
  std::uint16_t port = 0;
  handler serve;
  std::chrono::milliseconds suspect_after{0};
  // Watchers that asked this door to tell them when its process leaves:
  // in all, and waiting now.
  std::atomic<std::uint64_t> watched_by{0};
  std::atomic<std::uint64_t> watching{0};

  std::mutex mutex;
  std::condition_variable idle;
  // Guarded by mutex.
  bool closed = false;
  std::size_t serving = 0;
  std::map<std::string, caf::actor> remotes;
  // The watcher (watch()): endpoints watched, and what to call when one
  // is gone.
  caf::actor watcher;
  std::set<std::string> watched;
  std::function<void(const std::string&)> gone;

  void lost(const std::string& endpoint) {
    std::function<void(const std::string&)> call;
    {
      std::lock_guard guard{mutex};
      watched.erase(endpoint);
      call = gone;
    }
    if (call)
      call(endpoint);
  }

  // Runs one request on a thread of its own; the answer goes back through
  // the door actor (which delivers the caller's promise).
  bool begin(std::uint64_t key, std::uint8_t kind, std::string id,
             std::string name, std::string bytes) {
    {
      std::lock_guard guard{mutex};
      if (closed)
        return false;
      ++serving;
    }
    std::thread{[this, key, kind, id = std::move(id), name = std::move(name),
                 bytes = std::move(bytes)] {
      auto r = serve(kind, id, name, bytes);
      std::int32_t code = r ? 0 : static_cast<std::int32_t>(r.error().code());
      std::string payload = r ? std::move(*r) : r.error().message();
      caf::anon_send(door, answer_atom::value, key, code, std::move(payload));
      std::lock_guard guard{mutex};
      --serving;
      idle.notify_all();
    }}.detach();
    return true;
  }
};

result<std::unique_ptr<engine_door>>
engine_door::start(std::string_view address, handler serve,
                   std::chrono::milliseconds suspect_after) {
  auto where = split_endpoint(address);
  if (!where)
    return std::move(where).error();
  auto d = std::make_unique<impl>();
  d->serve = std::move(serve);
  d->suspect_after = suspect_after;
  d->cfg.load<caf::io::middleman>();
  d->sys = std::make_unique<caf::actor_system>(d->cfg);
  caller_thread_guard guard_thread{*d->sys};
  auto* raw = d.get();
  // The impl is passed as the spawn's argument, not captured: CAF 0.17
  // binds a reference to a null pointer for a function-based actor that
  // takes no argument (UBSan stops there).
  d->door = d->sys->spawn([](caf::event_based_actor* self,
                             impl* raw) -> caf::behavior {
    auto promises =
      std::make_shared<std::map<std::uint64_t, caf::response_promise>>();
    auto next = std::make_shared<std::uint64_t>(0);
    // Watchers waiting to hear that this process leaves, one per watching
    // actor (answered once, by leave()). Each is monitored: one whose
    // process died or whose connection dropped is let go, so a door that
    // lives through many restarts of its peers keeps only the live ones.
    using watcher_map = std::map<caf::actor_addr, caf::response_promise>;
    auto watchers = std::make_shared<watcher_map>();
    auto leaving = std::make_shared<bool>(false);
    self->set_down_handler([=](caf::down_msg& m) {
      watchers->erase(m.source);
      raw->watching = watchers->size();
    });
    return {
      [=](forward_atom, std::int32_t kind, std::string& id, std::string& name,
          std::string& bytes) -> caf::result<std::int32_t, std::string> {
        auto key = ++*next;
        auto rp = self->make_response_promise();
        if (!raw->begin(key, static_cast<std::uint8_t>(kind), std::move(id),
                        std::move(name), std::move(bytes)))
          return {static_cast<std::int32_t>(errc::closed),
                  std::string{"the door is closed (the node is stopping)"}};
        promises->emplace(key, rp);
        return rp;
      },
      // A watcher's ping: answered here, on the door's own scheduler, so
      // a process that answers none is paused or hung, not only busy.
      [](ping_atom) { return ping_atom::value; },
      [=](watch_atom) -> caf::result<leaving_atom> {
        ++raw->watched_by;
        if (*leaving)
          return leaving_atom::value;
        auto src = self->current_sender();
        if (!src)
          return caf::sec::invalid_argument; // nobody to answer
        auto addr = caf::actor_cast<caf::actor_addr>(src);
        auto rp = self->make_response_promise();
        // A watcher that watches again (its earlier request lost with its
        // connection) replaces its earlier promise.
        if (watchers->insert_or_assign(addr, rp).second)
          self->monitor(src);
        raw->watching = watchers->size();
        return rp;
      },
      [=](leaving_atom) {
        *leaving = true;
        for (auto& [addr, rp] : *watchers)
          rp.deliver(leaving_atom::value);
        watchers->clear();
        raw->watching = 0;
      },
      [=](answer_atom, std::uint64_t key, std::int32_t code,
          std::string& payload) {
        auto it = promises->find(key);
        if (it == promises->end())
          return;
        it->second.deliver(code, std::move(payload));
        promises->erase(it);
      },
    };
  }, raw);
  d->watcher = d->sys->spawn([](caf::event_based_actor* self,
                                impl* raw) -> caf::behavior {
    auto by_addr = std::make_shared<std::map<caf::actor_addr, std::string>>();
    self->set_down_handler([=](caf::down_msg& m) {
      auto it = by_addr->find(m.source);
      if (it == by_addr->end())
        return;
      auto endpoint = it->second;
      by_addr->erase(it);
      raw->lost(endpoint);
    });
    // The watched door's process is gone or leaving: its partitions are
    // taken over (once: the down message or a late ping finds nothing).
    auto drop = [=](const caf::actor& remote) {
      auto it = by_addr->find(remote.address());
      if (it == by_addr->end())
        return;
      auto endpoint = it->second;
      by_addr->erase(it);
      self->demonitor(remote);
      raw->lost(endpoint);
    };
    // Pings a watched door every suspect_after / 4; one unanswered for
    // suspect_after makes its process gone (a paused process keeps its
    // connections open). Only a timeout counts: a door that answers with
    // an error (an older one) is alive.
    auto ping = [=](const caf::actor& remote) {
      if (by_addr->count(remote.address()) == 0)
        return; // gone already, or watched anew under another address
      self->request(remote, raw->suspect_after, ping_atom::value)
        .then(
          [=](ping_atom) {
            self->delayed_send(self, raw->suspect_after / 4, tick_atom::value,
                               remote);
          },
          [=](caf::error& e) {
            if (by_addr->count(remote.address()) == 0)
              return;
            if (e != caf::sec::request_timeout) {
              self->delayed_send(self, raw->suspect_after / 4,
                                 tick_atom::value, remote);
              return;
            }
            drop(remote);
          });
    };
    return {
      [=](tick_atom, const caf::actor& remote) { ping(remote); },
      [=](watch_atom, const std::string& host, std::uint16_t port,
          const std::string& endpoint) {
        auto mm = self->system().middleman().actor_handle();
        self->request(mm, std::chrono::seconds{10}, caf::connect_atom::value,
                      host, port)
          .then(
            [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
                const std::set<std::string>&) {
              auto remote = caf::actor_cast<caf::actor>(ptr);
              if (!remote) {
                raw->lost(endpoint);
                return;
              }
              (*by_addr)[remote.address()] = endpoint;
              self->monitor(remote);
              // Answered when the process hands its partitions over (a
              // clean stop): taken over at once, as when it dies. An error
              // (its process gone, an older door) is left to the down
              // message and the pings.
              self->request(remote, caf::infinite, watch_atom::value)
                .then([=](leaving_atom) { drop(remote); },
                      [](caf::error&) {});
              if (raw->suspect_after.count() > 0)
                ping(remote);
            },
            [=](caf::error&) { raw->lost(endpoint); });
      },
    };
  }, raw);
  auto port = d->sys->middleman().publish(d->door, where->second,
                                          where->first.c_str());
  if (!port) {
    auto text = d->sys->render(port.error());
    caf::anon_send_exit(d->door, caf::exit_reason::user_shutdown);
    return unexpected{errc::io, fmt::format("the door on {}: {}", address,
                                            text)};
  }
  d->port = *port;
  d->endpoint = fmt::format("{}:{}", where->first, *port);
  return std::unique_ptr<engine_door>{new engine_door{std::move(d)}};
}

engine_door::engine_door(std::unique_ptr<impl> impl)
    : impl_(std::move(impl)) {}

engine_door::~engine_door() {
  close();
  wait();
  caf::anon_send_exit(impl_->door, caf::exit_reason::user_shutdown);
  {
    std::lock_guard guard{impl_->mutex};
    impl_->remotes.clear();
    impl_->gone = nullptr; // the host it calls is going away
  }
  caf::anon_send_exit(impl_->watcher, caf::exit_reason::user_shutdown);
  impl_->watcher = nullptr;
  impl_->door = nullptr;
  impl_->sys.reset();
}

void engine_door::leave() {
  caf::anon_send(impl_->door, leaving_atom::value);
}

std::uint64_t engine_door::watched_by() const noexcept {
  return impl_->watched_by;
}

std::uint64_t engine_door::watching() const noexcept {
  return impl_->watching;
}

const std::string& engine_door::endpoint() const noexcept {
  return impl_->endpoint;
}

std::uint16_t engine_door::port() const noexcept {
  return impl_->port;
}

void engine_door::close() {
  {
    std::lock_guard guard{impl_->mutex};
    if (impl_->closed)
      return;
    impl_->closed = true;
  }
  caller_thread_guard guard_thread{*impl_->sys};
  (void)impl_->sys->middleman().unpublish(impl_->door, impl_->port);
}

void engine_door::wait() {
  std::unique_lock guard{impl_->mutex};
  impl_->idle.wait(guard, [&] { return impl_->serving == 0; });
}

void engine_door::watch(const std::string& endpoint,
                        std::function<void(const std::string&)> gone) {
  auto where = split_endpoint(endpoint);
  if (!where || endpoint == impl_->endpoint)
    return;
  {
    std::lock_guard guard{impl_->mutex};
    if (impl_->closed || !impl_->watched.insert(endpoint).second)
      return;
    if (!impl_->gone)
      impl_->gone = std::move(gone);
  }
  caf::anon_send(impl_->watcher, watch_atom::value, where->first,
                 where->second, endpoint);
}

result<std::string> engine_door::call(const std::string& endpoint,
                                      std::uint8_t kind, std::string_view id,
                                      std::string_view name, std::string bytes,
                                      std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  caller_thread_guard guard_thread{*d.sys};
  caf::actor remote;
  {
    std::lock_guard guard{d.mutex};
    if (auto it = d.remotes.find(endpoint); it != d.remotes.end())
      remote = it->second;
  }
  if (!remote) {
    auto where = split_endpoint(endpoint);
    if (!where)
      return std::move(where).error();
    auto got = d.sys->middleman().remote_actor(where->first, where->second);
    if (!got)
      return unexpected{errc::io,
                        fmt::format("the door at {}: {}", endpoint,
                                    d.sys->render(got.error()))};
    remote = *got;
    std::lock_guard guard{d.mutex};
    d.remotes[endpoint] = remote;
  }
  result<std::string> out =
    unexpected{errc::timeout,
               fmt::format("the door at {} did not answer", endpoint)};
  bool drop = false;
  caf::scoped_actor self{*d.sys};
  self
    ->request(remote, timeout, forward_atom::value,
              static_cast<std::int32_t>(kind), std::string{id},
              std::string{name}, std::move(bytes))
    .receive(
      [&](std::int32_t code, std::string& payload) {
        if (code == 0)
          out = std::move(payload);
        else
          out = unexpected{static_cast<errc>(code), std::move(payload)};
      },
      [&](caf::error& e) {
        drop = e != caf::sec::request_timeout;
        out = unexpected{drop ? errc::io : errc::timeout,
                         fmt::format("the door at {}: {}", endpoint,
                                     d.sys->render(e))};
      });
  if (drop) {
    std::lock_guard guard{d.mutex};
    if (auto it = d.remotes.find(endpoint);
        it != d.remotes.end() && it->second == remote)
      d.remotes.erase(it);
  }
  return out;
}

void watch_owners(engine_door& door, node& n,
                  const std::vector<partition_status>& parts) {
  for (const auto& s : parts) {
    if (s.owner_endpoint.empty() || s.role == owner_role::leader)
      continue;
    door.watch(s.owner_endpoint, [&door, &n](const std::string& endpoint) {
      auto now = n.partitions();
      for (auto p : partitions_to_take_over(now, n.self().node, endpoint)) {
        ++door.taken_over;
        n.take_over(p, now[p].epoch);
      }
    });
  }
}

} // namespace perdure::cluster
