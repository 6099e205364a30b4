// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>

namespace perdure::test {

/// A fresh directory under the system temp dir, removed with its contents on
/// destruction (unless PERDURE_KEEP_TEST_DIRS is set).
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const noexcept {
    return path_;
  }
  std::filesystem::path operator/(const std::string& sub) const {
    return path_ / sub;
  }

 private:
  std::filesystem::path path_;
};

} // namespace perdure::test
