// SPDX-License-Identifier: Apache-2.0
// Error messages of decoding, the thread-local builders of encoding and the
// signature stack.

#include "perdure/eventlog/codec.hpp"

#include <fmt/format.h>

#include <iterator>
#include <memory>

namespace perdure::codec::detail {

// -- error messages ----

std::string render_path(const path* at) {
  std::vector<const path*> steps;
  for (; at; at = at->parent)
    steps.push_back(at);
  std::string out = "$";
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    const path& p = **it;
    if (p.kind == path::step::field)
      fmt::format_to(std::back_inserter(out), ".{}", p.name);
    else if (p.kind == path::step::key)
      fmt::format_to(std::back_inserter(out), "[\"{}\"]", p.name);
    else
      fmt::format_to(std::back_inserter(out), "[{}]", p.index);
  }
  return out;
}

namespace {

using namespace flexbuffers; // the FBT_* type tags

std::string found_text(const ref& r) {
  seq s;
  map_view m;
  switch (r.type) {
    case FBT_NULL: return "null";
    case FBT_BOOL: return r.as_bool() ? "bool true" : "bool false";
    case FBT_INT:
    case FBT_INDIRECT_INT: return fmt::format("int {}", r.as_int());
    case FBT_UINT:
    case FBT_INDIRECT_UINT: return fmt::format("uint {}", r.as_uint());
    case FBT_FLOAT:
    case FBT_INDIRECT_FLOAT: return fmt::format("float {}", r.as_float());
    case FBT_KEY:
    case FBT_STRING: {
      std::string_view text = r.as_string();
      if (text.size() > 24)
        return fmt::format("str of {} bytes", text.size());
      auto json = to_json(encode(std::string{text}));
      return "str " + (json ? *json : std::string{"?"});
    }
    case FBT_BLOB: return fmt::format("bytes ({})", r.as_blob().size());
    case FBT_MAP:
      as_map(r, m);
      return fmt::format("map of {}", m.values.size);
    default:
      if (as_seq(r, s))
        return fmt::format("vector of {}", s.size);
      return "unknown";
  }
}

} // namespace

status mismatch(const path* at, const std::string& expected,
                const ref& found) {
  return {errc::type_mismatch,
          fmt::format("expected {} at {}, found {}", expected,
                      render_path(at), found_text(found))};
}

status out_of_range(const path* at, const std::string& expected,
                    const ref& found) {
  return {errc::type_mismatch,
          fmt::format("expected {} at {}, found {} (out of range)", expected,
                      render_path(at), found_text(found))};
}

status wrong_size(const path* at, const std::string& expected,
                  std::size_t found_size) {
  return {errc::type_mismatch,
          fmt::format("expected {} at {}, found vector of {}", expected,
                      render_path(at), found_size)};
}

status load_failed(const path* at, const std::string& expected,
                   std::string_view what) {
  return {errc::type_mismatch,
          fmt::format("perdure_load of {} at {} failed: {}", expected,
                      render_path(at), what)};
}

// -- builders ----

namespace {

struct local_builder {
  std::unique_ptr<flexbuffers::Builder> builder;
  bool in_use = false;
};

// Two builders per thread: sharing keys costs a set insertion per key.
local_builder& thread_builder(bool share_keys) {
  thread_local local_builder local[2];
  return local[share_keys ? 1 : 0];
}

// A builder that grew past this is dropped after use rather than kept.
constexpr std::size_t max_kept_capacity = std::size_t{1} << 20;

flexbuffers::BuilderFlag flags(bool share_keys) {
  return share_keys ? flexbuffers::BUILDER_FLAG_SHARE_KEYS
                    : flexbuffers::BUILDER_FLAG_NONE;
}

} // namespace

builder_lease::builder_lease(bool share_keys)
  : builder_(nullptr), owned_(false), share_keys_(share_keys) {
  auto& local = thread_builder(share_keys);
  if (local.in_use) {
    builder_ = new flexbuffers::Builder(256, flags(share_keys));
    owned_ = true;
    return;
  }
  if (!local.builder)
    local.builder =
      std::make_unique<flexbuffers::Builder>(512, flags(share_keys));
  local.in_use = true;
  builder_ = local.builder.get();
}

builder_lease::~builder_lease() {
  if (owned_) {
    delete builder_;
    return;
  }
  auto& local = thread_builder(share_keys_);
  local.in_use = false;
  if (builder_->GetSize() > max_kept_capacity)
    local.builder.reset();
  else
    builder_->Clear();
}

std::string builder_lease::finish() {
  builder_->Finish();
  const auto& buf = builder_->GetBuffer();
  return {reinterpret_cast<const char*>(buf.data()), buf.size()};
}

std::vector<const void*>& signature_stack() {
  thread_local std::vector<const void*> stack;
  return stack;
}

} // namespace perdure::codec::detail
