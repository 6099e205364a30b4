// SPDX-License-Identifier: Apache-2.0
// libFuzzer target over the payload codec: validate, to_json and decode<T>
// for representative types (codec_checks.hpp). Built with PERDURE_FUZZ=ON.

#include "codec_checks.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string failure = perdure::fuzz::check_codec_input(
      {reinterpret_cast<const char*>(data), size});
  if (!failure.empty()) {
    std::fprintf(stderr, "fuzz_codec: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
