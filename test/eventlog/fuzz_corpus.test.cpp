// SPDX-License-Identifier: Apache-2.0
// Replays the committed fuzz corpus and every crash reproducer (test/fuzz/)
// through the checks of the libFuzzer targets, so the normal build covers
// them without clang.

#include "../fuzz/codec_checks.hpp"
#include "../fuzz/record_checks.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace perdure;

namespace {

namespace fs = std::filesystem;

const fs::path fuzz_dir{PERDURE_FUZZ_DIR};

// The regular files of `dir`, sorted; none when it does not exist.
std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir))
    return out;
  for (const auto& e : fs::directory_iterator{dir})
    if (e.is_regular_file())
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string contents(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

} // namespace

TEST_CASE("every codec seed is a valid payload and passes the fuzz checks") {
  auto files = files_in(fuzz_dir / "corpus" / "codec");
  REQUIRE(files.size() >= 10);
  for (const auto& file : files) {
    INFO(file.string());
    std::string bytes = contents(file);
    CHECK(codec::validate(bytes).is_ok());
    CHECK(fuzz::check_codec_input(bytes) == "");
  }
}

TEST_CASE("every record seed unframes and passes the fuzz checks") {
  auto files = files_in(fuzz_dir / "corpus" / "record");
  REQUIRE(files.size() >= 4);
  for (const auto& file : files) {
    INFO(file.string());
    std::string bytes = contents(file);
    REQUIRE_FALSE(bytes.empty());
    auto [key, value] = fuzz::split_record_input(bytes);
    eventlog::record_view rv;
    eventlog::stream_info info;
    std::string_view small;
    CHECK((eventlog::detail::unframe_record(key, value, rv).is_ok() ||
           eventlog::detail::unframe_entry(key, value, info).is_ok() ||
           eventlog::detail::unframe_small(key, value, small).is_ok()));
    CHECK(fuzz::check_record_input(bytes) == "");
  }
}

TEST_CASE("every fuzz regression input passes the fuzz checks") {
  for (const auto& file : files_in(fuzz_dir / "regressions" / "codec")) {
    INFO(file.string());
    CHECK(fuzz::check_codec_input(contents(file)) == "");
  }
  for (const auto& file : files_in(fuzz_dir / "regressions" / "record")) {
    INFO(file.string());
    CHECK(fuzz::check_record_input(contents(file)) == "");
  }
}
