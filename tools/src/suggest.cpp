// SPDX-License-Identifier: Apache-2.0
#include "suggest.hpp"

#include "storage.hpp"

#include <algorithm>
#include <ostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace perdure::tools {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

} // namespace

std::vector<std::string> nearest(std::string_view word,
                                 const std::vector<std::string>& candidates) {
  std::vector<std::pair<std::size_t, std::string>> close;
  for (auto& c : candidates) {
    auto d = edit_distance(word, c);
    // One a prefix of the other, or four letters in common at the start
    // ("succeeded" for "successful").
    std::size_t common = 0;
    while (common < word.size() && common < c.size()
           && word[common] == c[common])
      ++common;
    bool prefix = (word.size() >= 2 && (common == word.size()
                                        || common == c.size()))
                  || common >= 4;
    if (d <= 2 || prefix)
      close.emplace_back(prefix ? std::min<std::size_t>(d, 1) : d, c);
  }
  std::stable_sort(close.begin(), close.end(),
                   [](auto& x, auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (auto& [d, c] : close)
    if (out.size() < 3)
      out.push_back(c);
  return out;
}

std::string did_you_mean(const std::vector<std::string>& names) {
  if (names.empty())
    return {};
  std::string text = "did you mean ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      text += i + 1 == names.size() ? " or " : ", ";
    text += "'" + names[i] + "'";
  }
  return text + "?";
}

std::optional<int> reject_unknown_command(const CLI::App& app, int argc,
                                          const char* const* argv,
                                          const cli_io& io,
                                          const std::string& try_hint) {
  std::vector<std::string> commands;
  for (const auto* sub : app.get_subcommands({}))
    commands.push_back(sub->get_name());
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--")
      return std::nullopt;
    if (arg.size() > 1 && arg[0] == '-') {
      if (arg.find('=') != std::string_view::npos)
        continue;
      // An option of the top level that takes a value skips that value.
      for (const auto* opt : app.get_options())
        if (opt->get_items_expected_min() > 0
            && opt->check_name(std::string{arg}))
          ++i;
      continue;
    }
    if (std::find(commands.begin(), commands.end(), arg) != commands.end())
      return std::nullopt;
    auto near = nearest(arg, commands);
    io.err << "perdure: '" << arg << "' is not a perdure command"
           << (near.empty() ? "" : "; " + did_you_mean(near)) << " (try '"
           << try_hint << "')\n";
    return static_cast<int>(exit_code::not_found);
  }
  return std::nullopt;
}

} // namespace perdure::tools
