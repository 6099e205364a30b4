// SPDX-License-Identifier: Apache-2.0
// Seed example 8-1: a step puts objects, the next one reads and joins them.
#include <perdure/perdure.hpp>

#include <cstdio>

using namespace perdure;

const auto words = step("words", [] {
  return std::vector<object_ref<std::string>>{put(std::string{"hello"}),
                                              put(std::string{"world"})};
});
const auto concat = step("concat",
                         [](std::vector<object_ref<std::string>> ws) {
                           std::string out;
                           for (auto& w : ws)
                             out += (out.empty() ? "" : " ") + w.get();
                           return out;
                         });

int main() {
  engine eng;
  auto out = eng.run(concat(words()), "workflow_1");
  std::printf("status: %s\n", to_string(eng.status("workflow_1")).data());
  std::printf("output: %s\n", eng.output<std::string>("workflow_1").c_str());
  return out == "hello world" ? 0 : 1;
}
