// SPDX-License-Identifier: Apache-2.0
#pragma once

// Races: `first_of(a, b, ...)` is a node whose output is the output of the
// first of its inputs to finish, as a `std::variant` (its index names the
// winner). The losers are canceled: their event waits are dropped, their
// durable timers removed, their pending steps never start, and their
// running bodies are told to stop (their results are dropped).
// `with_timeout(node, d)` (perdure/listeners/events.hpp) is the race of a
// node and a `sleep(d)`.

#include "perdure/runtime/step.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace perdure {
namespace detail {

template <std::size_t I, class... T>
using nth_t = std::tuple_element_t<I, std::tuple<T...>>;

/// A race definition `name` whose output `Out` is `wrap(index_constant,
/// value)` of the winning input (of type In...[index]). Its body never
/// runs (the engine resolves a race as its first input succeeds).
template <class Out, class... In, class Wrap>
std::shared_ptr<const step_def> make_race_def(std::string name, Wrap wrap) {
  static_assert(sizeof...(In) >= 1, "a race needs an input");
  // Built by hand, not with make_step_def: a race is never `catching`, so
  // it needs no caught<Out> (which the codec lacks for an optional Out).
  auto def = std::make_shared<step_def>();
  def->name = std::move(name);
  def->defaults = step_options{.max_attempts = 1,
                               .resources = {.cpus = 0.0}};
  def->signature = value_signature<Out>() + "(";
  ((def->signature += value_signature<In>() + ","), ...);
  def->signature.back() = ')';
  def->invoke = [](std::vector<input>&) {
    return outcome::failure("perdure::invalid_argument",
                            "a race node runs no body");
  };
  def->pick = [wrap](std::size_t k,
                     const std::string& bytes) -> result<std::string> {
    result<std::string> out = unexpected{
      errc::invalid_argument, "a race's winner is not one of its inputs"};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      auto one = [&]<std::size_t J>(std::integral_constant<std::size_t, J>
                                      idx) {
        auto v = decode_value<nth_t<J, In...>>(bytes);
        if (!v)
          out = std::move(v).error();
        else
          out = encode_value<Out>(wrap(idx, std::move(*v)));
      };
      ((k == I ? one(std::integral_constant<std::size_t, I>{}) : void()),
       ...);
    }(std::index_sequence_for<In...>{});
    return out;
  };
  return register_step(std::move(def));
}

template <class... T>
std::string race_name(const char* what) {
  std::string n = std::string{"perdure."} + what + "<";
  ((n += value_signature<T>() + ","), ...);
  n.back() = '>';
  return n;
}

/// Registered before main, so a resumed workflow finds it.
template <class... T>
inline const std::shared_ptr<const step_def> first_of_def =
  make_race_def<std::variant<T...>, T...>(
    race_name<T...>("first_of"), [](auto idx, auto v) {
      return std::variant<T...>{std::in_place_index<decltype(idx)::value>,
                                std::move(v)};
    });

/// A race node of `def` over `ws`, its step id based on `base`.
template <class... T>
std::shared_ptr<node> race_node(std::shared_ptr<const step_def> def,
                                std::string base,
                                const workflow<T>&... ws) {
  auto n = std::make_shared<node>();
  n->def = std::move(def);
  n->opts.name = std::move(base);
  (n->args.push_back(make_arg<T>(ws)), ...);
  return n;
}

} // namespace detail

/// A node whose output is that of the first of `ws` to succeed, as a
/// `std::variant` whose index names the winner (the same type may appear
/// twice: use `index()` and `std::get<I>`). Its step id is `first_of`
/// (`first_of_1`, ...).
///
/// Semantics: the winner is the input whose success is logged first; the
/// race's output is logged in the same batch, so after a crash the logged
/// winner wins again (replay never re-runs a race). The losers are
/// canceled in that batch: their durable timers are removed, their event
/// waits dropped (a signal a losing wait was about to take stays for the
/// next wait), their pending steps never start, and a loser's body that is
/// already running is told to stop (its token is set:
/// this_step::canceled()) and finishes on its thread with its result
/// dropped (it holds its step-pool resources until it returns; the
/// workflow does not wait for it). Inputs shared with other consumers are
/// not canceled. An input that fails (after its attempts) before another
/// succeeds fails the workflow, as any step would; race `catching` steps
/// to race errors.
/// Every input starts when its own inputs are ready, not when the race is
/// reached.
template <class... T>
  requires(sizeof...(T) >= 2)
workflow<std::variant<T...>> first_of(const workflow<T>&... ws) {
  return workflow<std::variant<T...>>{
    detail::race_node(detail::first_of_def<T...>, "first_of", ws...)};
}

} // namespace perdure
