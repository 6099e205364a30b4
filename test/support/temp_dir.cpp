// SPDX-License-Identifier: Apache-2.0
#include "temp_dir.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace perdure::test {

temp_dir::temp_dir() {
  auto tmpl = (std::filesystem::temp_directory_path() / "perdure-test-XXXXXX")
                .string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  if (std::getenv("PERDURE_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

} // namespace perdure::test
