// SPDX-License-Identifier: Apache-2.0
// Seed example 8-7: a step that books flights and a hotel as a sub-graph,
// then finalizes; the children start only after the parent returned.
#include "trip_booking.hpp"

#include <cstdio>

int main() {
  using namespace samples::trip_booking;
  perdure::engine eng;
  auto receipt = eng.run(
    book_trip("OAK", "SAN", std::vector<std::string>{"6/12", "7/5"}));
  std::printf("%s\n(%d bookings made)\n", receipt.c_str(),
              bookings_made.load());
}
