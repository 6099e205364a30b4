// SPDX-License-Identifier: Apache-2.0
// Seed example 8-2: a step declares the resources it needs (one GPU); the
// engine runs it only when its capacity has them. Two training steps that
// each need the machine's only GPU never run at once: the second waits until
// the first ends. Two steps that need no GPU do run at once (each waits to
// meet the other, which could not happen one after the other).
#include <perdure/perdure.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

struct model {
  std::string name;
  int gpus = 0;
};
PERDURE_FIELDS(model, name, gpus)

// What the GPU steps saw: how many held the GPU at once, at most.
std::atomic<int> on_gpu{0};
std::atomic<int> most_on_gpu{0};

const auto train_model = step(
  "train_model",
  [](std::string name) {
    int now = ++on_gpu;
    for (int m = most_on_gpu; now > m && !most_on_gpu.compare_exchange_weak(m, now);) {
    }
    std::this_thread::sleep_for(100ms); // training; the GPU is held meanwhile
    --on_gpu;
    return model{name, 1};
  },
  {.resources = {.cpus = 1, .gpus = 1}});

// A short computation: a local step, run on the workflow's own thread as
// soon as its inputs are durable; it takes none of the engine's capacity.
const auto compare = step(
  "compare",
  [](model a, model b) {
    return a.name + " and " + b.name + " trained on " +
           std::to_string(a.gpus) + " gpu each";
  },
  {.local = true});

// Two CPU-only steps that each wait (up to 30 s) for the other to start.
std::mutex mu;
std::condition_variable cv;
int arrived = 0;
const auto prepare = step("prepare", [](std::string part) {
  std::unique_lock lock{mu};
  ++arrived;
  cv.notify_all();
  if (!cv.wait_for(lock, 30s, [] { return arrived == 2; }))
    throw std::runtime_error("the other prepare step never ran beside this one");
  return part;
});
const auto join = step(
  "join", [](std::string a, std::string b) { return a + "+" + b; },
  {.local = true});

int main() {
  engine eng{{.capacity = {.cpus = 2, .gpus = 1}}};
  auto h = eng.run_async(compare(train_model("tiny"), train_model("small")));
  auto both = h.get();
  if (!eng.metadata(h.id(), "compare").options.local) {
    std::fprintf(stderr, "step_resources: compare did not run as a local step\n");
    return 1;
  }
  std::printf("%s; at most %d at once\n", both.c_str(), most_on_gpu.load());
  auto prepared = eng.run(join(prepare("text"), prepare("images")));
  std::printf("prepared %s side by side\n", prepared.c_str());
  if (most_on_gpu != 1) {
    std::fprintf(stderr, "step_resources: %d GPU steps ran at once on 1 GPU\n",
                 most_on_gpu.load());
    return 1;
  }
  return 0;
}
