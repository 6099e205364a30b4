// SPDX-License-Identifier: Apache-2.0
#pragma once

// Template machinery behind `step()`: signature deduction, the compile-time
// argument rules, argument capture into graph nodes and the type-erased
// invoker that decodes inputs, calls the body and encodes its output.

#include "perdure/runtime/graph.hpp"

#include <exception>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace perdure::detail {

// -- signature deduction -----------------------------------------------------

template <class... Ts>
struct type_list {};

template <class F>
struct fn_traits : fn_traits<decltype(&F::operator())> {};
template <class R, class... A>
struct fn_traits<R (*)(A...)> {
  using result = R;
  using params = type_list<std::decay_t<A>...>;
};
template <class R, class... A>
struct fn_traits<R(A...)> : fn_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) const> : fn_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...)> : fn_traits<R (*)(A...)> {};

/// The value type of a step's return type; flow<T> and workflow<T> are
/// dynamic (may continue with a graph).
template <class R>
struct step_result {
  using type = R;
  static constexpr bool dynamic = false;
};
template <class T>
struct step_result<flow<T>> {
  using type = T;
  static constexpr bool dynamic = true;
};
template <class T>
struct step_result<workflow<T>> {
  using type = T;
  static constexpr bool dynamic = true;
};

// -- argument rules ----------------------------------------------------------

template <class T>
struct is_workflow : std::false_type {};
template <class T>
struct is_workflow<workflow<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

/// Whether an argument of type `A` may be passed for a parameter `P`.
template <class P, class A>
struct accepts {
  static constexpr bool value = std::is_convertible_v<A, P>;
};
template <class P, class U>
struct accepts<P, workflow<U>> {
  static constexpr bool value = std::is_same_v<P, U>;
};
template <class P, class U>
struct accepts<P, object_ref<U>> {
  static constexpr bool value = std::is_same_v<P, object_ref<U>>
                                || std::is_same_v<P, U>;
};
template <class E, class X>
struct accepts<std::vector<E>, std::vector<X>> {
  static constexpr bool value = std::is_convertible_v<std::vector<X>,
                                                      std::vector<E>>
                                || accepts<E, X>::value;
};
template <class P, class A>
inline constexpr bool accepts_v = accepts<P, A>::value;

/// Captures an argument for parameter `P` into a node argument.
template <class P, class A>
arg make_arg(A&& a) {
  using D = std::decay_t<A>;
  arg out;
  if constexpr (std::is_convertible_v<A&&, P>) {
    out.what = arg::kind::value;
    out.bytes = encode_value<P>(static_cast<P>(std::forward<A>(a)));
  } else if constexpr (is_workflow<D>::value) {
    out.what = arg::kind::node;
    out.ref = a.node();
  } else if constexpr (is_object_ref<D>::value) {
    out.what = arg::kind::blob;
    out.bytes = a.key();
  } else {
    static_assert(is_vector<P>::value && is_vector<D>::value);
    out.what = arg::kind::list;
    out.items.reserve(a.size());
    for (auto& x : a)
      out.items.push_back(make_arg<typename P::value_type>(x));
  }
  return out;
}

/// Per-call options `o` over `base`: set members win, metadata is merged.
step_options merge_options(const step_options& base, step_options o);

/// Throws `perdure::error` when the node's options are invalid.
void check_options(const node& n);

// -- invocation --------------------------------------------------------------

template <class P>
result<P> decode_input(input& in) {
  if (!in.is_list)
    return decode_value<P>(in.bytes);
  if constexpr (is_vector<P>::value) {
    P out;
    out.reserve(in.items.size());
    for (auto& item : in.items) {
      auto v = decode_input<typename P::value_type>(item);
      if (!v)
        return std::move(v).error();
      out.push_back(std::move(*v));
    }
    return out;
  } else {
    return unexpected{errc::type_mismatch, "a list given for a non-vector"};
  }
}

template <class T, class R, class F, class... P, std::size_t... I>
outcome invoke_step(F& fn, std::vector<input>& in,
                    std::index_sequence<I...>) {
  if (in.size() != sizeof...(P))
    return outcome::failure("perdure::type_mismatch", "wrong argument count");
  std::tuple<result<P>...> decoded{decode_input<P>(in[I])...};
  status bad;
  ((bad = bad ? std::get<I>(decoded).as_status() : bad), ...);
  if (!bad)
    return outcome::failure("perdure::type_mismatch",
                            "cannot decode an argument: " + bad.to_string());
  try {
    outcome out;
    R r = fn(std::move(*std::get<I>(decoded))...);
    if constexpr (step_result<R>::dynamic) {
      if constexpr (is_workflow<R>::value) {
        out.what = outcome::kind::graph;
        out.graph = r.node();
      } else if (r.is_graph()) {
        out.what = r.continues_as_new() ? outcome::kind::restart
                                        : outcome::kind::graph;
        out.graph = r.graph();
      } else {
        out.what = outcome::kind::value;
        out.bytes = encode_value<T>(r.value());
      }
    } else {
      out.what = outcome::kind::value;
      out.bytes = encode_value<T>(r);
    }
    return out;
  } catch (...) {
    auto [type, text] = describe_current_exception();
    return outcome::failure(std::move(type), std::move(text));
  }
}

/// Builds the type-erased definition of step `name` with body `fn`.
template <class F, class... P>
std::shared_ptr<step_def> make_step_def(std::string name, F fn,
                                        step_options defaults,
                                        type_list<P...>) {
  using R = typename fn_traits<std::decay_t<F>>::result;
  using T = typename step_result<R>::type;
  static_assert(!std::is_void_v<T>, "a step must return a value");
  auto def = std::make_shared<step_def>();
  def->name = std::move(name);
  def->dynamic = step_result<R>::dynamic;
  def->defaults = std::move(defaults);
  def->signature = value_signature<T>() + "(";
  ((def->signature += value_signature<P>() + ","), ...);
  if (def->signature.back() == ',')
    def->signature.pop_back();
  def->signature += ")";
  def->invoke = [fn = std::move(fn)](std::vector<input>& in) mutable {
    return invoke_step<T, R, F, P...>(fn, in, std::index_sequence_for<P...>{});
  };
  def->caught_value = [](std::string_view bytes) -> result<std::string> {
    auto v = decode_value<T>(bytes);
    if (!v)
      return std::move(v).error();
    return encode_value(caught<T>::success(std::move(*v)));
  };
  def->caught_error = [](const std::string& type, const std::string& text) {
    return encode_value(caught<T>::failure(type, text));
  };
  return def;
}

} // namespace perdure::detail
