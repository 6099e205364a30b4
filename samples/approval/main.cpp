// SPDX-License-Identifier: Apache-2.0
// An expense approval that waits on a person: the workflow waits for
// signal "approve" for up to 48 hours (with_timeout over
// wait_for_signal), holding no thread while it waits. Here the approver
// answers from the command line, `perdure signal ID approve JSON`, run as
// a separate process beside the engine. A second expense nobody answers
// shows the timeout path; `--timeout 300ms` shortens its 48 h wait so the
// sample ends (its test passes that option).
//
//   sample_approval [--timeout DURATION] [--cli PATH-TO-perdure]
#include <perdure/perdure.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace perdure;
using namespace std::chrono_literals;

namespace {

struct approval {
  std::string by;
  bool ok = false;
};
PERDURE_FIELDS(approval, by, ok)

const auto decide = step("decide", [](std::string expense,
                                      std::optional<approval> a) {
  if (!a)
    return expense + ": no answer in time, escalated to finance";
  return expense + (a->ok ? ": approved by " : ": rejected by ") + a->by;
});

workflow<std::string> approval_flow(std::string expense,
                                    std::chrono::milliseconds timeout) {
  return decide(std::move(expense),
                with_timeout(wait_for_signal<approval>("approve"), timeout));
}

// "300ms", "2s", "5m", "48h"; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string s) {
  char* end = nullptr;
  long long n = std::strtoll(s.c_str(), &end, 10);
  std::string unit = end ? end : "";
  if (n <= 0)
    return std::nullopt;
  if (unit == "ms")
    return std::chrono::milliseconds{n};
  if (unit == "s")
    return std::chrono::seconds{n};
  if (unit == "m")
    return std::chrono::minutes{n};
  if (unit == "h")
    return std::chrono::hours{n};
  return std::nullopt;
}

// Runs `argv` as a child process and returns its exit code.
int run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ)
      != 0)
    return 127;
  int st = 0;
  if (::waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
    return 128;
  return WEXITSTATUS(st);
}

} // namespace

int main(int argc, char** argv) {
  std::optional<std::chrono::milliseconds> short_timeout;
  std::string cli = "perdure";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    if (opt == "--timeout")
      short_timeout = parse_duration(argv[i + 1]);
    else if (opt == "--cli")
      cli = argv[i + 1];
    if (opt == "--timeout" && !short_timeout) {
      std::fprintf(stderr, "bad --timeout '%s'\n", argv[i + 1]);
      return 2;
    }
  }
  engine eng;
  auto tag = std::to_string(::getpid());
  auto first = "expense-" + tag + "-a";
  auto a = eng.run_async(approval_flow("travel 420 EUR", 48h), first);
  // The approver answers from another process; the signal is kept even
  // if it arrives before the workflow reaches its wait.
  int rc = run({cli, "--storage", eng.storage().string(), "signal", first,
                "approve", R"({"by": "dana", "ok": true})"});
  if (rc != 0) {
    std::printf("perdure signal failed with exit code %d\n", rc);
    return 1;
  }
  auto ra = a.get();
  std::printf("%s\n", ra.c_str());
  bool ok = ra == "travel 420 EUR: approved by dana";
  if (short_timeout) {
    auto rb = eng.run(approval_flow("laptop 1900 EUR", *short_timeout),
                      "expense-" + tag + "-b");
    std::printf("%s\n", rb.c_str());
    ok = ok && rb == "laptop 1900 EUR: no answer in time, escalated to "
                     "finance";
  }
  std::printf("%s\n", ok ? "approvals: one approved from the CLI, one "
                           "timed out"
                         : "WRONG");
  return ok ? 0 : 1;
}
