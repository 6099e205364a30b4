// SPDX-License-Identifier: Apache-2.0
// Seed example 8-9: an idempotency token generated once by a durable step
// makes the side-effecting booking step safe to retry. Here the booking
// service books the seat and then loses its answer on the first try (a
// timeout after the side effect): the step fails, is retried with the same
// request id and gets the same ticket back: one booking, not two.
#include <perdure/perdure.hpp>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>

using namespace perdure;

// Stands in for a remote booking API that deduplicates by request id.
struct booking_service {
  std::mutex mu;
  std::map<std::string, std::string> tickets; // request id -> ticket
  int calls = 0;

  std::string book(const std::string& request_id) {
    std::lock_guard lock{mu};
    ++calls;
    auto [it, fresh] =
      tickets.try_emplace(request_id, "ticket-" + std::to_string(tickets.size() + 1) +
                                        " for request " + request_id);
    if (calls == 1) // the seat is booked, but the answer never arrives
      throw std::runtime_error("booking service timed out");
    return it->second;
  }
};
booking_service service;

const auto generate_id = step("generate_id", [] {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
});
const auto book_flight_idempotent = step(
  "book_flight_idempotent",
  [](std::string request_id) { return service.book(request_id); },
  {.max_attempts = 3});

int main() {
  engine eng;
  auto ticket = eng.run(book_flight_idempotent(generate_id()));
  std::printf("%s\n", ticket.c_str());
  std::printf("booking calls: %d, tickets issued: %zu\n", service.calls,
              service.tickets.size());
  if (service.calls != 2 || service.tickets.size() != 1) {
    std::fprintf(stderr, "idempotent_booking: expected 2 calls and 1 ticket\n");
    return 1;
  }
  return 0;
}
