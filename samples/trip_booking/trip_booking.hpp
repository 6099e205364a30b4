// SPDX-License-Identifier: Apache-2.0
#pragma once
// Seed example 8-7's workflow: a step that books flights and a hotel as a
// sub-graph, then finalizes; the children start only after the parent
// returned. A header so that the crash-at-every-write test runs the very
// same steps.
#include <perdure/perdure.hpp>

#include <atomic>
#include <string>
#include <vector>

namespace samples::trip_booking {

using booking = std::string;

/// Bookings this process made: a resumed workflow makes only those whose
/// success it had not logged.
inline std::atomic<int> bookings_made{0};

inline const auto book_flight =
  perdure::step("book_flight", [](std::string from, std::string to,
                                  std::string date) {
    ++bookings_made;
    return booking{"flight " + from + "->" + to + " on " + date};
  });

inline const auto book_hotel =
  perdure::step("book_hotel", [](std::string city,
                                 std::vector<std::string> dates) {
    ++bookings_made;
    return booking{"hotel in " + city + " " + dates.front() + ".."
                   + dates.back()};
  });

inline const auto finalize_or_cancel = perdure::step(
  "finalize_or_cancel",
  [](std::vector<booking> flights, std::vector<booking> hotels) {
    std::string receipt = "receipt:";
    for (auto& b : flights)
      receipt += " [" + b + "]";
    for (auto& b : hotels)
      receipt += " [" + b + "]";
    return receipt;
  });

inline const auto book_trip = perdure::step(
  "book_trip",
  [](std::string origin, std::string dest,
     std::vector<std::string> dates) -> perdure::flow<std::string> {
    auto f1 = book_flight(origin, dest, dates[0]);
    auto f2 = book_flight(dest, origin, dates[1]);
    auto hotel = book_hotel(dest, dates);
    return finalize_or_cancel(std::vector{f1, f2}, std::vector{hotel});
  });

} // namespace samples::trip_booking
