#include "perdure/eventlog/codec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <memory>
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

} // namespace detail

// -- JSON ----

namespace {

// The length of the valid UTF-8 sequence at `p`, or 0.
std::size_t utf8_length(const unsigned char* p, const unsigned char* end) {
  unsigned char c = p[0];
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F; // no UTF-16 surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F; // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) < n || p[1] < lo || p[1] > hi)
    return 0;
  for (std::size_t i = 2; i < n; ++i)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

void append_base64(std::string& out, std::string_view in) {
  static constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size();
  out.reserve(out.size() + (n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i < n) {
    std::uint32_t v = p[i] << 16;
    if (i + 1 < n)
      v |= p[i + 1] << 8;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
}

class json_writer {
 public:
  json_writer(std::string& out, int indent) : out_(out), indent_(indent) {
  }

  void value(const ref& r, int level) {
    detail::seq s;
    detail::map_view m;
    switch (r.type) {
      case FBT_NULL: out_ += "null"; return;
      case FBT_BOOL: out_ += r.as_bool() ? "true" : "false"; return;
      case FBT_INT:
      case FBT_INDIRECT_INT: integer(r.as_int()); return;
      case FBT_UINT:
      case FBT_INDIRECT_UINT: integer(r.as_uint()); return;
      case FBT_FLOAT:
      case FBT_INDIRECT_FLOAT: number(r.as_float(), r.float_width()); return;
      case FBT_KEY:
      case FBT_STRING: string(r.as_string()); return;
      case FBT_BLOB:
        out_ += indent_ > 0 ? "{\"$bytes\": \"" : "{\"$bytes\":\"";
        append_base64(out_, r.as_blob());
        out_ += "\"}";
        return;
      case FBT_MAP:
        detail::as_map(r, m);
        if (m.values.size == 0) {
          out_ += "{}";
          return;
        }
        out_ += '{';
        for (std::size_t i = 0; i < m.values.size; ++i) {
          if (i)
            out_ += ',';
          newline(level + 1);
          string(m.key(i));
          out_ += indent_ > 0 ? ": " : ":";
          value(m.values[i], level + 1);
        }
        newline(level);
        out_ += '}';
        return;
      default:
        detail::as_seq(r, s); // validation admits no other type
        if (s.size == 0) {
          out_ += "[]";
          return;
        }
        out_ += '[';
        for (std::size_t i = 0; i < s.size; ++i) {
          if (i)
            out_ += ',';
          newline(level + 1);
          value(s[i], level + 1);
        }
        newline(level);
        out_ += ']';
    }
  }

 private:
  void newline(int level) {
    if (indent_ <= 0)
      return;
    out_ += '\n';
    out_.append(static_cast<std::size_t>(level) * indent_, ' ');
  }

  template <class I>
  void integer(I v) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, res.ptr);
  }

  void number(double d, unsigned width) {
    if (std::isnan(d)) {
      out_ += "\"NaN\"";
      return;
    }
    if (std::isinf(d)) {
      out_ += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      return;
    }
    std::size_t start = out_.size();
    if (width == 4)
      fmt::format_to(std::back_inserter(out_), "{}", static_cast<float>(d));
    else
      fmt::format_to(std::back_inserter(out_), "{}", d);
    if (out_.find_first_of(".e", start) == std::string::npos)
      out_ += ".0";
  }

  void string(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out_ += '"';
    auto p = reinterpret_cast<const unsigned char*>(text.data());
    auto end = p + text.size();
    while (p < end) {
      auto run = p;
      while (run < end && *run >= 0x20 && *run < 0x80 && *run != '"'
             && *run != '\\')
        ++run;
      out_.append(reinterpret_cast<const char*>(p),
                  static_cast<std::size_t>(run - p));
      p = run;
      if (p == end)
        break;
      unsigned char c = *p;
      if (c >= 0x80) {
        std::size_t n = utf8_length(p, end);
        if (n == 0) {
          out_ += "\\ufffd";
          ++p;
        } else {
          out_.append(reinterpret_cast<const char*>(p), n);
          p += n;
        }
        continue;
      }
      ++p;
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          out_ += "\\u00";
          out_ += hex[c >> 4];
          out_ += hex[c & 15];
      }
    }
    out_ += '"';
  }

  std::string& out_;
  int indent_;
};

result<std::string> render(std::string_view payload, int indent) {
  ref root;
  if (auto st = detail::validate(payload, root); !st)
    return unexpected{std::move(st)};
  std::string out;
  out.reserve(payload.size() * 2);
  json_writer{out, indent}.value(root, 0);
  return out;
}

} // namespace

status validate(std::string_view payload) {
  ref root;
  return detail::validate(payload, root);
}

result<std::string> to_json(std::string_view payload) {
  return render(payload, 0);
}

result<std::string> to_json_pretty(std::string_view payload, int indent) {
  return render(payload, indent < 0 ? 0 : indent);
}

} // namespace perdure::codec
