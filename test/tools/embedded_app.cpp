// SPDX-License-Identifier: Apache-2.0
// An application that embeds the perdure CLI. `app run ID...` starts a
// five-step chain per id and waits (the test kills it mid-way with SIGKILL);
// any other command line goes to run_embedded_cli, so `app resume ID` and
// `app resume-all` find this program's steps.
//
// Environment: APP_EFFECTS, a file that gets one line "workflow step" per
// step execution; APP_STEP_MS, how long each step takes.

#include <perdure/perdure.hpp>
#include <perdure/tools/embedded_cli.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

const auto app_step = perdure::step("app_step", [](int x) {
  if (const char* path = std::getenv("APP_EFFECTS")) {
    auto line = perdure::this_step::workflow_id() + " "
                + perdure::this_step::step_id() + "\n";
    int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
      (void) !::write(fd, line.data(), line.size());
      ::close(fd);
    }
  }
  const char* ms = std::getenv("APP_STEP_MS");
  std::this_thread::sleep_for(
    std::chrono::milliseconds{ms ? std::atoi(ms) : 0});
  return x + 1;
});

perdure::workflow<int> chain() {
  auto w = app_step(0);
  for (int k = 1; k < 5; ++k)
    w = app_step(w);
  return w;
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::string{argv[1]} == "run") {
    perdure::engine eng{{.storage = argv[2]}};
    std::vector<perdure::handle<int>> hs;
    for (int i = 3; i < argc; ++i)
      hs.push_back(eng.run_async(chain(), argv[i]));
    std::printf("started\n");
    std::fflush(stdout);
    for (auto& h : hs)
      h.wait();
    return 0;
  }
  return perdure::tools::run_embedded_cli(
    argc, argv, [](const std::filesystem::path& storage) {
      return perdure::engine::open(
        {.storage = storage,
         .durability = perdure::eventlog::durability::process,
         .resume_on_open = false});
    });
}
