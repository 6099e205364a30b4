// SPDX-License-Identifier: Apache-2.0
#pragma once

// Steps: `step(name, fn)` registers a function under a stable name and returns
// a handle; calling the handle builds a lazy graph node (`workflow<T>`).
// Arguments are checked at compile time: a `T` parameter takes a `T` (or
// anything convertible), a `workflow<T>`, an `object_ref<T>`, and a vector
// parameter also takes a vector of any of those (resolved before the run).

#include "perdure/runtime/detail/step_impl.hpp"
#include "perdure/runtime/graph.hpp"

#include <memory>
#include <string>
#include <utility>

namespace perdure {

template <class T, class... Params>
class catching_handle;

/// A registered step taking `Params...` and producing a `T`. Copyable; the
/// registration lives as long as any handle or graph node uses it.
template <class T, class... Params>
class step_handle {
 public:
  using value_type = T;

  explicit step_handle(std::shared_ptr<const detail::step_def> def,
                       step_options call = {})
    : def_(std::move(def)), call_(std::move(call)) {
  }

  /// A handle whose calls use `o` over the step's defaults (unset members
  /// inherit; metadata entries are added).
  step_handle options(step_options o) const {
    return step_handle{def_, detail::merge_options(call_, std::move(o))};
  }

  /// Builds a node calling this step with `args` (nothing runs yet).
  /// Throws `perdure::error` (`invalid_argument`) for bad options.
  template <class... Args>
    requires(sizeof...(Args) == sizeof...(Params)
             && (detail::accepts_v<Params, std::decay_t<Args>> && ...))
  workflow<T> operator()(Args&&... args) const {
    return workflow<T>{make_node(false, std::forward<Args>(args)...)};
  }

  /// The registered name.
  const std::string& name() const noexcept {
    return def_->name;
  }
  const std::shared_ptr<const detail::step_def>& def() const noexcept {
    return def_;
  }
  const step_options& call_options() const noexcept {
    return call_;
  }

  template <class... Args>
  std::shared_ptr<detail::node> make_node(bool catching, Args&&... args) const {
    auto n = std::make_shared<detail::node>();
    n->def = def_;
    n->opts = call_;
    n->catching = catching;
    n->args.reserve(sizeof...(Args));
    (n->args.push_back(detail::make_arg<Params>(std::forward<Args>(args))),
     ...);
    detail::check_options(*n);
    return n;
  }

 private:
  std::shared_ptr<const detail::step_def> def_;
  step_options call_;
};

/// A step whose output is `caught<T>`: its errors (after all attempts, and
/// from anywhere in a sub-graph it returns) become the value instead of
/// failing the workflow. The step then counts as succeeded.
template <class T, class... Params>
class catching_handle {
 public:
  using value_type = caught<T>;

  explicit catching_handle(step_handle<T, Params...> h) : h_(std::move(h)) {
  }

  catching_handle options(step_options o) const {
    return catching_handle{h_.options(std::move(o))};
  }

  template <class... Args>
    requires(sizeof...(Args) == sizeof...(Params)
             && (detail::accepts_v<Params, std::decay_t<Args>> && ...))
  workflow<caught<T>> operator()(Args&&... args) const {
    return workflow<caught<T>>{
      h_.make_node(true, std::forward<Args>(args)...)};
  }

 private:
  step_handle<T, Params...> h_;
};

namespace detail {

template <class T, class F, class... P>
step_handle<T, P...> make_step_handle(std::string name, F fn,
                                      step_options defaults,
                                      type_list<P...> params) {
  return step_handle<T, P...>{register_step(
    make_step_def(std::move(name), std::move(fn), std::move(defaults),
                  params))};
}

} // namespace detail

/// Registers `fn` as the step `name` with default options `defaults`. `fn`
/// returns a payload, or `flow<T>` / `workflow<T>` to continue with a graph.
/// Names must be unique in the process: an engine refuses to start (and
/// `run` refuses) while two live steps share one.
template <class F>
auto step(std::string name, F fn, step_options defaults = {}) {
  using sig = detail::fn_traits<std::decay_t<F>>;
  using T = typename detail::step_result<typename sig::result>::type;
  return detail::make_step_handle<T>(std::move(name), std::move(fn),
                                  std::move(defaults),
                                  typename sig::params{});
}

/// The catching form of `s`: `catching(s)(args...)` yields `caught<T>`.
template <class T, class... Params>
catching_handle<T, Params...> catching(const step_handle<T, Params...>& s) {
  return catching_handle<T, Params...>{s};
}

} // namespace perdure
