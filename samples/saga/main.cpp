// SPDX-License-Identifier: Apache-2.0
// A saga: book a flight, a hotel and a car; when a booking fails, run the
// compensations of the bookings that succeeded, in reverse order. Each
// booking and each compensation is a durable step: after a crash the
// workflow resumes where it stopped, so a booking is never made twice and
// a compensation never skipped. `catching(step)` hands the next step the
// booking's value or its error; the sub-graph a step returns decides what
// runs next (here: the next booking, or the compensations).
#include <perdure/perdure.hpp>

#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

using namespace perdure;

namespace {

// What the "external systems" saw, in order (checked at the end).
std::mutex seen_mu;
std::vector<std::string> seen;
void record(std::string what) {
  std::lock_guard g{seen_mu};
  seen.push_back(std::move(what));
}

struct trip {
  std::string who;
  bool car_available = true;
};
PERDURE_FIELDS(trip, who, car_available)

const auto book_flight = step("book_flight", [](trip t) {
  record("flight booked for " + t.who);
  return std::string{"F-17"};
});
const auto book_hotel = step("book_hotel", [](trip t) {
  record("hotel booked for " + t.who);
  return std::string{"H-42"};
});
const auto book_car = step("book_car", [](trip t) -> std::string {
  if (!t.car_available)
    throw std::runtime_error("no car left");
  record("car booked for " + t.who);
  return "C-7";
});

// Compensations; `after` orders them (the previous compensation's note).
const auto cancel_hotel = step("cancel_hotel", [](std::string hotel) {
  record("hotel " + hotel + " canceled");
  return "hotel " + hotel + " canceled";
});
const auto cancel_flight = step("cancel_flight", [](std::string flight,
                                                   std::string after) {
  record("flight " + flight + " canceled");
  return after + ", flight " + flight + " canceled";
});

const auto after_car = step(
  "saga_after_car",
  [](std::string flight, std::string hotel,
     caught<std::string> car) -> flow<std::string> {
    if (car.ok())
      return "booked " + flight + ", " + hotel + ", " + car.value();
    // Reverse order: the hotel first, then the flight.
    return cancel_flight(flight, cancel_hotel(hotel));
  });
const auto after_hotel = step(
  "saga_after_hotel",
  [](trip t, std::string flight,
     caught<std::string> hotel) -> flow<std::string> {
    if (!hotel.ok())
      return cancel_flight(flight, std::string{"no hotel"});
    return after_car(flight, hotel.value(), catching(book_car)(t));
  });
const auto after_flight = step(
  "saga_after_flight",
  [](trip t, caught<std::string> flight) -> flow<std::string> {
    if (!flight.ok())
      return std::string{"no flight: nothing to undo"};
    return after_hotel(t, flight.value(), catching(book_hotel)(t));
  });

workflow<std::string> book_trip(trip t) {
  return after_flight(t, catching(book_flight)(t));
}

} // namespace

int main() {
  engine eng;
  auto ok_trip = eng.run(book_trip({"ada", true}));
  std::printf("ada: %s\n", ok_trip.c_str());
  auto failed = eng.run(book_trip({"bob", false}));
  std::printf("bob: %s\n", failed.c_str());
  const std::vector<std::string> want{
    "flight booked for ada", "hotel booked for ada", "car booked for ada",
    "flight booked for bob", "hotel booked for bob", "hotel H-42 canceled",
    "flight F-17 canceled"};
  for (auto& s : seen)
    std::printf("  %s\n", s.c_str());
  bool ok = seen == want && ok_trip == "booked F-17, H-42, C-7"
            && failed == "hotel H-42 canceled, flight F-17 canceled";
  std::printf("%s\n", ok ? "saga: compensated in reverse order" : "WRONG");
  return ok ? 0 : 1;
}
