// Seed example 8-9: an idempotency token generated once by a durable step
// makes the side-effecting booking step safe to retry.
#include <perdure/perdure.hpp>

#include <cstdio>
#include <map>
#include <random>

using namespace perdure;

std::map<std::string, std::string> service; // stands in for a booking API

const auto generate_id = step("generate_id", [] {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
});
const auto book_flight_idempotent = step(
  "book_flight_idempotent", [](std::string request_id) {
    if (auto i = service.find(request_id); i != service.end())
      return i->second; // booked before: the same ticket
    auto ticket = "ticket for request " + request_id;
    service[request_id] = ticket;
    return ticket;
  });

int main() {
  engine eng;
  std::printf("%s\n",
              eng.run(book_flight_idempotent(generate_id())).c_str());
}
