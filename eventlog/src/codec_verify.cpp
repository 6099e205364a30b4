// SPDX-License-Identifier: Apache-2.0
// Validation of untrusted payloads and the reader views over validated ones.

#include "perdure/eventlog/codec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace perdure::codec {

namespace {

using detail::read_uint;
using detail::ref;
using namespace flexbuffers; // the FBT_* type tags

// Nesting deeper than this is rejected as corruption; it bounds the recursion
// of validation, decoding and JSON rendering.
constexpr unsigned max_depth = 128;

bool is_width(std::uint64_t w) noexcept {
  return w == 1 || w == 2 || w == 4 || w == 8;
}

// Validates a payload without trusting any of it. Every offset points
// backwards and the item it reaches must end at or before the slot that
// refers to it (an empty item may start at its slot). A FlexBuffers builder
// only appends, so real payloads always satisfy this, and it makes the
// reference graph acyclic: an element slot lies strictly before its parent's.
//
// Shared items (keys, key vectors, anything in a forged payload) are visited
// once per reference. A work budget of 4 units per payload byte bounds what a
// decode or to_json can produce from a forged payload: one unit per value and
// per element, one per 8 bytes of a string or blob, and one per 8 bytes of a
// key longer than 64 bytes (short keys are free: builders share them, so a
// key may legitimately be referenced by every map of a payload).
class verifier {
 public:
  verifier(const std::uint8_t* buf, std::size_t size)
    : buf_(buf), size_(size), budget_(4 * size + 64) {
  }

  status run(ref& root) {
    if (size_ < 3)
      return size_ == 0 ? error("the payload is empty")
                        : error("a payload is at least 3 bytes");
    std::uint8_t w = buf_[size_ - 1];
    if (!is_width(w) || size_ - 2 < w)
      return error("bad root width");
    root = detail::make_ref(buf_ + size_ - 2 - w, w, buf_[size_ - 2]);
    if (!check(root, 0))
      return error(what_);
    return {};
  }

 private:
  status error(const char* what) const {
    return {errc::corruption,
            fmt::format("payload is not a valid FlexBuffer: {} (at byte {} "
                        "of {})",
                        what, at_, size_)};
  }

  bool fail(const char* what, std::size_t at) {
    what_ = what;
    at_ = at;
    return false;
  }

  bool charge(std::uint64_t n, std::size_t at) {
    if (n > budget_)
      return fail("too much shared structure", at);
    budget_ -= n;
    return true;
  }

  // The start of the item `slot` points to, or false.
  bool target_of(const std::uint8_t* slot, unsigned slot_width,
                 std::size_t& target) {
    auto pos = static_cast<std::size_t>(slot - buf_);
    std::uint64_t off = read_uint(slot, slot_width);
    if (off > pos)
      return fail("offset out of bounds", pos);
    target = pos - off;
    return true;
  }

  // Reads the size prefix of width `w` before `target`.
  bool size_of(std::size_t target, unsigned w, std::uint64_t& n) {
    if (target < w)
      return fail("size prefix out of bounds", target);
    n = read_uint(buf_ + target - w, w);
    return true;
  }

  // A NUL-terminated key at `target` that must end before `limit`.
  bool check_key(std::size_t target, std::size_t limit) {
    // Short keys are scanned; long ones are remembered, since a key may be
    // shared by every map in the payload.
    std::size_t scan = std::min<std::size_t>(limit - target, 64);
    if (std::memchr(buf_ + target, 0, scan))
      return true;
    auto it = key_ends_.find(target);
    if (it == key_ends_.end()) {
      auto nul = static_cast<const std::uint8_t*>(
        std::memchr(buf_ + target, 0, size_ - target));
      std::size_t end = nul ? static_cast<std::size_t>(nul - buf_) : size_;
      it = key_ends_.emplace(target, end).first;
    }
    if (it->second >= limit)
      return fail("unterminated key", target);
    return charge((it->second - target) / 8, target);
  }

  bool check_key_slot(const std::uint8_t* slot, unsigned slot_width) {
    std::size_t target = 0;
    return charge(1, static_cast<std::size_t>(slot - buf_))
           && target_of(slot, slot_width, target)
           && check_key(target, static_cast<std::size_t>(slot - buf_));
  }

  bool check(const ref& r, unsigned depth) {
    auto pos = static_cast<std::size_t>(r.slot - buf_);
    if (!charge(1, pos))
      return false;
    Type t = r.type;
    if (t == FBT_NULL || t == FBT_INT || t == FBT_UINT || t == FBT_BOOL)
      return true;
    if (t == FBT_FLOAT)
      return r.slot_width >= 4 || fail("float narrower than 32 bits", pos);
    if (t >= FBT_MAX_TYPE || (t > FBT_BOOL && t != FBT_VECTOR_BOOL))
      return fail("unknown type", pos);
    std::size_t target = 0;
    if (!target_of(r.slot, r.slot_width, target))
      return false;
    std::size_t room = pos - target; // the item must end before its slot
    unsigned w = r.width;
    std::uint64_t n = 0;
    switch (t) {
      case FBT_INDIRECT_INT:
      case FBT_INDIRECT_UINT:
        return w <= room || fail("indirect number out of bounds", target);
      case FBT_INDIRECT_FLOAT:
        return (w >= 4 && w <= room)
               || fail("bad indirect float", target);
      case FBT_KEY:
        return check_key(target, pos);
      case FBT_STRING:
        if (!size_of(target, w, n))
          return false;
        if (n >= room || buf_[target + n] != 0)
          return fail("string out of bounds or unterminated", target);
        return charge(n / 8, target);
      case FBT_BLOB:
        if (!size_of(target, w, n))
          return false;
        if (n > room)
          return fail("blob out of bounds", target);
        return charge(n / 8, target);
      case FBT_VECTOR:
      case FBT_MAP:
        return check_vector(r, target, room, depth);
      default:
        break;
    }
    if (depth >= max_depth)
      return fail("nested too deeply", target);
    Type elem = FBT_NULL;
    if (IsFixedTypedVector(t)) {
      std::uint8_t len = 0;
      elem = ToFixedTypedVectorElementType(t, &len);
      n = len;
    } else {
      elem = ToTypedVectorElementType(t);
      if (!size_of(target, w, n))
        return false;
    }
    if (n > room / w)
      return fail("typed vector out of bounds", target);
    if (elem == FBT_FLOAT && w < 4)
      return fail("float narrower than 32 bits", target);
    if (!charge(n, target))
      return false;
    if (elem == FBT_KEY || elem == FBT_STRING)
      for (std::uint64_t i = 0; i < n; ++i)
        if (!check({buf_ + target + i * w, static_cast<std::uint8_t>(w),
                    static_cast<std::uint8_t>(w), elem},
                   depth + 1))
          return false;
    return true;
  }

  bool check_vector(const ref& r, std::size_t target, std::size_t room,
                    unsigned depth) {
    if (depth >= max_depth)
      return fail("nested too deeply", target);
    unsigned w = r.width;
    std::uint64_t n = 0;
    if (!size_of(target, w, n))
      return false;
    if (n > room / (w + 1))
      return fail("vector out of bounds", target);
    if (!charge(n, target))
      return false;
    if (r.type == FBT_MAP && !check_keys(target, w, n))
      return false;
    const std::uint8_t* types = buf_ + target + n * w;
    for (std::uint64_t i = 0; i < n; ++i)
      if (!check(detail::make_ref(buf_ + target + i * w,
                                  static_cast<std::uint8_t>(w), types[i]),
                 depth + 1))
        return false;
    return true;
  }

  // The keys vector of a map whose values start at `target`.
  bool check_keys(std::size_t target, unsigned w, std::uint64_t n) {
    if (target < 3 * w)
      return fail("map prefix out of bounds", target);
    std::size_t slot = target - 3 * w;
    std::uint64_t kw = read_uint(buf_ + target - 2 * w, w);
    std::size_t keys = 0;
    std::uint64_t kn = 0;
    if (!is_width(kw))
      return fail("bad map key width", slot);
    if (!target_of(buf_ + slot, w, keys) || !size_of(keys, kw, kn))
      return false;
    if (kn != n || kn > (slot - keys) / kw)
      return fail("map keys out of bounds", keys);
    if (!charge(kn, keys))
      return false;
    for (std::uint64_t i = 0; i < kn; ++i)
      if (!check_key_slot(buf_ + keys + i * kw, static_cast<unsigned>(kw)))
        return false;
    return true;
  }

  const std::uint8_t* buf_;
  std::size_t size_;
  std::uint64_t budget_;
  const char* what_ = "";
  std::size_t at_ = 0;
  std::unordered_map<std::size_t, std::size_t> key_ends_;
};

} // namespace

// -- reader ----

namespace detail {

bool as_seq(const ref& r, seq& out) noexcept {
  Type t = r.type;
  if (t == FBT_VECTOR) {
    const std::uint8_t* d = r.target();
    std::size_t n = read_uint(d - r.width, r.width);
    out = {d, n, r.width, d + n * r.width, FBT_NULL};
    return true;
  }
  if (IsTypedVector(t)) {
    const std::uint8_t* d = r.target();
    out = {d, static_cast<std::size_t>(read_uint(d - r.width, r.width)),
           r.width, nullptr, ToTypedVectorElementType(t)};
    return true;
  }
  if (IsFixedTypedVector(t)) {
    std::uint8_t len = 0;
    Type elem = ToFixedTypedVectorElementType(t, &len);
    out = {r.target(), len, r.width, nullptr, elem};
    return true;
  }
  return false;
}

bool as_map(const ref& r, map_view& out) noexcept {
  if (r.type != FBT_MAP)
    return false;
  const std::uint8_t* d = r.target();
  unsigned w = r.width;
  std::size_t n = read_uint(d - w, w);
  out.values = {d, n, r.width, d + n * w, FBT_NULL};
  const std::uint8_t* slot = d - 3 * w;
  const std::uint8_t* keys = slot - read_uint(slot, w);
  auto kw = static_cast<std::uint8_t>(read_uint(d - 2 * w, w));
  out.keys = {keys, n, kw, nullptr, FBT_KEY};
  return true;
}

bool map_view::find(std::string_view name, ref& out) const noexcept {
  std::size_t lo = 0;
  std::size_t hi = keys.size;
  while (lo < hi) {
    std::size_t mid = lo + (hi - lo) / 2;
    auto k = reinterpret_cast<const char*>(keys[mid].target());
    int c = std::strncmp(k, name.data(), name.size());
    if (c == 0 && k[name.size()] != '\0')
      c = 1;
    if (c < 0) {
      lo = mid + 1;
    } else if (c > 0) {
      hi = mid;
    } else {
      out = values[mid];
      return true;
    }
  }
  return false;
}

status validate(std::string_view payload, ref& root) {
  return verifier{reinterpret_cast<const std::uint8_t*>(payload.data()),
                  payload.size()}
    .run(root);
}

} // namespace detail

status validate(std::string_view payload) {
  ref root;
  return detail::validate(payload, root);
}

} // namespace perdure::codec
