// SPDX-License-Identifier: Apache-2.0
// The metrics registry and its text exposition (Prometheus format 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/).

#include "perdure/runtime/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <stdexcept>

namespace perdure::metrics {

// -- histogram -------------------------------------------------------------------

histogram::histogram(std::vector<double> upper_bounds)
  : bounds_(std::move(upper_bounds)),
    counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    counts_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) noexcept {
  // `le` buckets: v lands in the first bucket whose bound is >= v.
  auto i = static_cast<std::size_t>(
    std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> histogram::bucket_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> latency_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,
          10};
}

// -- formatting ------------------------------------------------------------------

namespace {

std::string format_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  // Whole numbers print without exponent or fraction (counts stay exact up
  // to 2^53); others in the shortest form that reads back the same.
  if (v == std::trunc(v) && std::fabs(v) < 9.007199254740992e15)
    return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{}", v);
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void check_name(std::string_view name) {
  auto ok = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name)
    ok = ok
         && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
             || (c >= '0' && c <= '9') || c == '_' || c == ':');
  if (!ok)
    throw std::logic_error(
      fmt::format("'{}' is not a valid Prometheus metric name", name));
}

// `{a="x",b="y"}` plus `extra` (le) last; empty when there are no labels.
std::string label_text(const labels& ls, std::string_view extra_name = {},
                       std::string_view extra_value = {}) {
  if (ls.empty() && extra_name.empty())
    return {};
  std::string out = "{";
  bool first = true;
  auto add = [&](std::string_view n, std::string_view v) {
    if (!first)
      out += ',';
    first = false;
    out.append(n);
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  };
  for (auto& [n, v] : ls)
    add(n, v);
  if (!extra_name.empty())
    add(extra_name, extra_value);
  out += '}';
  return out;
}

std::string_view type_name(kind k) {
  switch (k) {
    case kind::counter: return "counter";
    case kind::gauge: return "gauge";
    case kind::histogram: return "histogram";
  }
  return "untyped";
}

} // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// -- registry --------------------------------------------------------------------

struct registry::family {
  std::string name;
  std::string help;
  kind what = kind::counter;
  // std::map keeps series in label order and their addresses stable.
  std::map<labels, std::unique_ptr<counter>> counters;
  std::map<labels, std::unique_ptr<gauge>> gauges;
  std::map<labels, std::unique_ptr<histogram>> histograms;
  std::vector<std::pair<std::uint64_t, std::function<std::vector<sample>()>>>
    callbacks;
};

registry::registry() = default;
registry::~registry() = default;

registry::family& registry::family_of(std::string_view name,
                                      std::string_view help, kind k) {
  for (auto& f : families_)
    if (f->name == name) {
      if (f->what != k)
        throw std::logic_error(fmt::format("metric '{}' is a {}, not a {}",
                                           name, type_name(f->what),
                                           type_name(k)));
      return *f;
    }
  check_name(name);
  auto f = std::make_unique<family>();
  f->name = std::string{name};
  f->help = std::string{help};
  f->what = k;
  families_.push_back(std::move(f));
  return *families_.back();
}

counter& registry::get_counter(std::string_view name, std::string_view help,
                               const labels& ls) {
  std::lock_guard guard{mu_};
  auto& slot = family_of(name, help, kind::counter).counters[ls];
  if (!slot)
    slot = std::make_unique<counter>();
  return *slot;
}

gauge& registry::get_gauge(std::string_view name, std::string_view help,
                           const labels& ls) {
  std::lock_guard guard{mu_};
  auto& slot = family_of(name, help, kind::gauge).gauges[ls];
  if (!slot)
    slot = std::make_unique<gauge>();
  return *slot;
}

histogram& registry::get_histogram(std::string_view name,
                                   std::string_view help,
                                   std::vector<double> upper_bounds,
                                   const labels& ls) {
  std::lock_guard guard{mu_};
  auto& slot = family_of(name, help, kind::histogram).histograms[ls];
  if (!slot)
    slot = std::make_unique<histogram>(std::move(upper_bounds));
  return *slot;
}

std::uint64_t registry::add_callback(std::string_view name,
                                     std::string_view help, kind k,
                                     std::function<std::vector<sample>()> fn) {
  if (k == kind::histogram)
    throw std::logic_error("metric callbacks report counters or gauges");
  std::lock_guard guard{mu_};
  auto id = next_callback_++;
  family_of(name, help, k).callbacks.emplace_back(id, std::move(fn));
  return id;
}

void registry::remove_callback(std::uint64_t id) {
  std::lock_guard guard{mu_};
  for (auto& f : families_)
    std::erase_if(f->callbacks, [&](auto& c) { return c.first == id; });
}

struct registry::rendered {
  std::string help;
  kind what = kind::counter;
  std::string body;
};

void registry::render(std::map<std::string, rendered>& into,
                      const labels& extra) const {
  auto with = [&](const labels& ls) {
    auto all = ls;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  std::lock_guard guard{mu_};
  for (auto& f : families_) {
    std::vector<sample> reported;
    for (auto& [id, fn] : f->callbacks) {
      auto more = fn();
      reported.insert(reported.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
    bool empty = f->counters.empty() && f->gauges.empty()
                 && f->histograms.empty() && reported.empty();
    if (empty && f->callbacks.empty())
      continue; // a family whose callbacks all went away
    auto [at, fresh] = into.try_emplace(f->name, rendered{f->help, f->what,
                                                          {}});
    if (!fresh && at->second.what != f->what)
      continue;
    auto& out = at->second.body;
    for (auto& [ls, c] : f->counters)
      out += fmt::format("{}{} {}\n", f->name, label_text(with(ls)),
                         c->value());
    for (auto& [ls, g] : f->gauges)
      out += fmt::format("{}{} {}\n", f->name, label_text(with(ls)),
                         format_value(g->value()));
    for (auto& s : reported)
      out += fmt::format("{}{} {}\n", f->name, label_text(with(s.labels)),
                         format_value(s.value));
    for (auto& [ls, h] : f->histograms) {
      auto counts = h->bucket_counts();
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        auto le = i < h->upper_bounds().size()
                    ? format_value(h->upper_bounds()[i])
                    : std::string{"+Inf"};
        out += fmt::format("{}_bucket{} {}\n", f->name,
                           label_text(with(ls), "le", le), cumulative);
      }
      out += fmt::format("{}_sum{} {}\n", f->name, label_text(with(ls)),
                         format_value(h->sum()));
      out += fmt::format("{}_count{} {}\n", f->name, label_text(with(ls)),
                         cumulative);
    }
  }
}

std::string expose(std::span<const exposition_part> parts) {
  std::map<std::string, registry::rendered> families;
  for (auto& p : parts)
    if (p.source)
      p.source->render(families, p.extra);
  std::string out;
  for (auto& [name, f] : families) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name,
                       escape_help(f.help), name, type_name(f.what));
    out += f.body;
  }
  return out;
}

std::string registry::expose() const {
  exposition_part self{this, {}};
  return metrics::expose({&self, 1});
}

} // namespace perdure::metrics
