// SPDX-License-Identifier: Apache-2.0
// Change feeds: the note layout, the stored rules and the notes a writer
// adds to each batch (FORMAT.md, "Change feeds").

#include "change_feed.hpp"

#include "encoding.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace perdure::eventlog {

namespace {
constexpr std::uint8_t note_version = 1;
constexpr std::size_t note_head = 1 + 8 + 2; // version, seq, kind
} // namespace

std::string encode_change_note(const change_note& n) {
  std::string out;
  out.reserve(note_head + n.source.size());
  out.push_back(static_cast<char>(note_version));
  detail::put_be64(out, n.seq);
  out.push_back(static_cast<char>(n.kind >> 8));
  out.push_back(static_cast<char>(n.kind & 0xff));
  out += n.source;
  return out;
}

result<change_note> decode_change_note(std::string_view p) {
  if (p.size() <= note_head)
    return unexpected{errc::corruption,
                      fmt::format("change note of {} bytes (at least {})",
                                  p.size(), note_head + 1)};
  if (static_cast<std::uint8_t>(p[0]) != note_version)
    return unexpected{errc::unsupported,
                      fmt::format("change note version {} (this build "
                                  "reads {})",
                                  static_cast<unsigned>(
                                    static_cast<std::uint8_t>(p[0])),
                                  note_version)};
  change_note n;
  n.seq = detail::get_be64(p.data() + 1);
  n.kind = static_cast<std::uint16_t>(
    (static_cast<std::uint8_t>(p[9]) << 8) | static_cast<std::uint8_t>(p[10]));
  n.source = std::string{p.substr(note_head)};
  if (n.seq == 0)
    return unexpected{errc::corruption, "change note of seq 0"};
  return n;
}

std::string encode_change_feeds(const std::vector<change_feed>& feeds) {
  std::string out;
  for (auto& f : feeds) {
    for (std::size_t i = 0; i < f.kinds.size(); ++i)
      out += fmt::format("{}{}", i ? "," : "", f.kinds[i]);
    out += ':';
    out += f.stream;
    out += '\n';
  }
  return out;
}

result<std::vector<change_feed>> decode_change_feeds(std::string_view text) {
  std::vector<change_feed> out;
  auto bad = [&](std::string_view line) {
    return unexpected{errc::corruption,
                      fmt::format("change-feed rule '{}' in stream '{}'",
                                  line, change_feed_rules_stream)};
  };
  while (!text.empty()) {
    auto end = text.find('\n');
    if (end == std::string_view::npos)
      return bad(text);
    auto line = text.substr(0, end);
    text.remove_prefix(end + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon + 1 == line.size())
      return bad(line);
    change_feed f;
    f.stream = std::string{line.substr(colon + 1)};
    auto kinds = line.substr(0, colon);
    while (!kinds.empty()) {
      auto comma = std::min(kinds.find(','), kinds.size());
      std::uint16_t k = 0;
      auto num = kinds.substr(0, comma);
      auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), k);
      if (ec != std::errc{} || ptr != num.data() + num.size())
        return bad(line);
      f.kinds.push_back(k);
      kinds.remove_prefix(std::min(comma + 1, kinds.size()));
    }
    out.push_back(std::move(f));
  }
  return out;
}

namespace detail {

status check_change_feeds(const std::vector<change_feed>& feeds) {
  for (auto& f : feeds) {
    if (auto why = check_stream_id(f.stream); !why.empty())
      return {errc::invalid_argument,
              fmt::format("change feed: {}", why)};
    if (f.stream.find('\n') != std::string::npos
        || f.stream == change_feed_rules_stream)
      return {errc::invalid_argument,
              fmt::format("change feed: bad stream '{}'", f.stream)};
    if (f.kinds.empty())
      return {errc::invalid_argument,
              fmt::format("change feed '{}' notes no record kind", f.stream)};
  }
  return {};
}

void add_notes(const std::vector<change_feed>& feeds, write_batch& b) {
  auto is_feed = [&](std::string_view s) {
    return std::any_of(feeds.begin(), feeds.end(),
                       [&](auto& f) { return f.stream == s; });
  };
  auto noted = [&](const write_batch::op& op, const change_feed& f) {
    return op.what == write_batch::op::type::append
           && std::find(f.kinds.begin(), f.kinds.end(), op.number)
                != f.kinds.end()
           && !is_feed(op.stream);
  };
  bool any = std::any_of(b.ops().begin(), b.ops().end(), [&](auto& op) {
    return std::any_of(feeds.begin(), feeds.end(),
                       [&](auto& f) { return noted(op, f); });
  });
  if (!any)
    return;
  std::vector<write_batch::op> ops;
  ops.reserve(b.ops().size() * 2);
  for (auto& op : b.ops()) {
    ops.push_back(op);
    for (auto& f : feeds)
      if (noted(op, f))
        ops.push_back({write_batch::op::type::note, f.stream, op.stream,
                       op.number});
  }
  b = write_batch::from_ops(std::move(ops));
}

result<std::vector<change_feed>> settle_change_feeds(
  event_log& log, const std::optional<std::vector<change_feed>>& wanted) {
  std::vector<change_feed> stored;
  auto info = log.info(change_feed_rules_stream);
  if (info) {
    auto s = decode_change_feeds(info->metadata);
    if (!s)
      return std::move(s).error();
    stored = std::move(*s);
  } else if (info.error() != errc::not_found) {
    return std::move(info).error();
  }
  if (!wanted || *wanted == stored)
    return stored;
  write_batch b;
  auto text = encode_change_feeds(*wanted);
  b.create(change_feed_rules_stream, stream_kind::other, text);
  b.set_metadata(change_feed_rules_stream, std::move(text));
  if (auto c = log.commit(std::move(b)); !c)
    return std::move(c).error();
  return *wanted;
}

} // namespace detail
} // namespace perdure::eventlog
