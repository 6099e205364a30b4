// SPDX-License-Identifier: Apache-2.0
// A payment provider that calls back: the order workflow asks the provider
// to charge the customer, handing it a durable promise id as the callback
// token; the provider confirms later, from its own thread (in production:
// an HTTP webhook handler calling engine::complete, or `perdure promise
// complete ID JSON`). The workflow waits on the promise and ships only a
// paid order; a declined payment rejects the promise and the workflow
// records the refusal. The id is the same after a crash, so a callback
// that arrives while the service is down is kept for the resumed wait.
#include <perdure/perdure.hpp>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <unistd.h>

using namespace perdure;

namespace {

struct receipt {
  std::string provider_ref;
  int amount = 0;
};
PERDURE_FIELDS(receipt, provider_ref, amount)

// The payment provider: charges arrive with their callback token and are
// answered later on the provider's thread.
class payment_provider {
 public:
  void charge(std::string token, std::string customer, int amount) {
    std::lock_guard g{mu_};
    queue_.push_back({std::move(token), std::move(customer), amount});
    cv_.notify_one();
  }
  // Answers `n` charges through `eng`: customers named "broke" decline.
  void serve(engine& eng, int n) {
    for (int i = 0; i < n; ++i) {
      std::unique_lock g{mu_};
      cv_.wait(g, [&] { return !queue_.empty(); });
      auto c = queue_.front();
      queue_.pop_front();
      g.unlock();
      if (c.customer == "broke")
        eng.reject(c.token, "card declined");
      else
        eng.complete(c.token, receipt{"psp-" + std::to_string(100 + i),
                                      c.amount});
    }
  }

 private:
  struct pending {
    std::string token, customer;
    int amount;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<pending> queue_;
};

payment_provider provider;

const auto request_payment = step("request_payment",
                                  [](std::string customer, int amount) {
  // The token is stable: a retried or resumed step hands the same one.
  provider.charge(this_step::promise_id("paid"), customer, amount);
  return amount;
});
const auto ship = step("ship", [](std::string customer, int requested,
                                  caught<receipt> paid) {
  if (paid.ok() && paid.value().amount != requested)
    return "not shipped to " + customer + ": paid the wrong amount";
  if (!paid.ok())
    return "not shipped to " + customer + ": " + paid.error();
  return "shipped to " + customer + " (paid " + std::to_string(
           paid.value().amount) + ", " + paid.value().provider_ref + ")";
});
const auto order = step("order", [](std::string customer, int amount)
                                   -> flow<std::string> {
  // The wait is armed at once; the payment request runs beside it (the
  // token does not depend on the order of the two).
  return ship(customer, request_payment(customer, amount),
              try_wait_for_promise<receipt>("paid"));
});

} // namespace

int main() {
  engine eng;
  auto tag = std::to_string(::getpid());
  auto a = eng.run_async(order("ada", 40), "order-ada-" + tag);
  auto b = eng.run_async(order("broke", 25), "order-broke-" + tag);
  std::thread psp{[&] { provider.serve(eng, 2); }};
  auto ra = a.get();
  auto rb = b.get();
  psp.join();
  std::printf("%s\n%s\n", ra.c_str(), rb.c_str());
  bool ok = ra.rfind("shipped to ada (paid 40, psp-", 0) == 0
            && rb.find("not shipped to broke") == 0
            && rb.find("card declined") != std::string::npos;
  std::printf("%s\n", ok ? "payments: one shipped, one declined" : "WRONG");
  return ok ? 0 : 1;
}
