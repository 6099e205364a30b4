// SPDX-License-Identifier: Apache-2.0
// Rendering any payload as JSON without its C++ type.

#include "perdure/eventlog/codec.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <iterator>

namespace perdure::codec {

// -- JSON ----

namespace {

using detail::ref;
using namespace flexbuffers; // the FBT_* type tags

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

result<std::string> to_json(std::string_view payload) {
  return render(payload, 0);
}

result<std::string> to_json_pretty(std::string_view payload, int indent) {
  return render(payload, indent < 0 ? 0 : indent);
}

} // namespace perdure::codec
