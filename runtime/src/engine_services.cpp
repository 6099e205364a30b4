// SPDX-License-Identifier: Apache-2.0
// What an engine owns for its optional modules and event nodes: services
// (engine::attach / engine::service) and the event sources of its event
// nodes, made once per name (the signal source is the runtime's own).

#include "engine_impl.hpp"
#include "child_source.hpp"
#include "signal_source.hpp"
#include "perdure/runtime/child.hpp"
#include "perdure/runtime/signal.hpp"

#include <typeindex>

namespace perdure {

void engine::attach(std::shared_ptr<engine_service> s) {
  {
    std::lock_guard guard{impl_->mu};
    if (!impl_->services_stopped) {
      impl_->services.push_back(std::move(s));
      return;
    }
  }
  s->stop(); // attached after close(): nothing may run any more
}

std::shared_ptr<engine_service> engine::find_service(
  const std::type_info& key,
  const std::function<std::shared_ptr<engine_service>()>& make) {
  std::shared_ptr<engine_service> made;
  {
    std::lock_guard guard{impl_->keyed_mu};
    for (auto& [k, s] : impl_->keyed)
      if (k == std::type_index{key})
        return s;
    made = make();
    impl_->keyed.emplace_back(std::type_index{key}, made);
  }
  attach(made);
  return made;
}

std::shared_ptr<detail::event_source>
engine::impl::source_for(const detail::step_def& def) {
  std::lock_guard guard{sources_mu};
  {
    std::lock_guard g2{mu};
    if (closing && live.empty())
      return nullptr;
  }
  auto& src = sources[def.source_name];
  if (!src && def.source_name == detail::child_source_name) {
    // The child source starts workflows in this engine.
    src = detail::make_child_source(*this, opts.external_cancel_check);
    if (opts.log)
      src->log = opts.log;
    src->metrics = registry.get();
  }
  if (!src && (def.make_source
               || def.source_name == detail::signal_source_name)) {
    // The signal source is the runtime's own: it reads this engine's log.
    if (def.make_source) {
      src = def.make_source();
    } else {
      auto s = detail::make_signal_source(log, opts.external_cancel_check);
      std::lock_guard g2{signals->mu};
      signals->source = s;
      src = std::move(s);
    }
    if (src && opts.log)
      src->log = opts.log;
    if (src)
      src->metrics = registry.get();
  }
  return src;
}

} // namespace perdure
