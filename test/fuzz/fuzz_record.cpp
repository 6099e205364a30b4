// SPDX-License-Identifier: Apache-2.0
// libFuzzer target over the record framing of eventlog/src/encoding.hpp:
// unframe_record, unframe_entry, unframe_small, parse_log_key and
// parse_timer_key (record_checks.hpp). Built with PERDURE_FUZZ=ON.

#include "record_checks.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string failure = perdure::fuzz::check_record_input(
      {reinterpret_cast<const char*>(data), size});
  if (!failure.empty()) {
    std::fprintf(stderr, "fuzz_record: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
