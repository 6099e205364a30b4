// Seed example 8-2: a step declares the resources it needs (one GPU); the
// engine runs it only when its capacity has them.
#include <perdure/perdure.hpp>

#include <cstdio>

using namespace perdure;

struct model {
  std::string name;
  int gpus = 0;
};
PERDURE_FIELDS(model, name, gpus)

const auto train_model = step(
  "train_model", [] { return model{"tiny", 1}; },
  {.resources = {.cpus = 1, .gpus = 1}});

int main() {
  engine eng{{.capacity = {.gpus = 1}}};
  auto m = eng.run(train_model());
  std::printf("model trained on %d gpu\n", m.gpus);
}
