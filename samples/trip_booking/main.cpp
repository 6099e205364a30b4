// Seed example 8-7: a step that books flights and a hotel as a sub-graph,
// then finalizes; the children start only after the parent returned.
#include <perdure/perdure.hpp>

#include <cstdio>

using namespace perdure;

using booking = std::string;

const auto book_flight = step("book_flight", [](std::string from,
                                                std::string to,
                                                std::string date) {
  return booking{"flight " + from + "->" + to + " on " + date};
});
const auto book_hotel = step("book_hotel", [](std::string city,
                                              std::vector<std::string> dates) {
  return booking{"hotel in " + city + " " + dates.front() + ".."
                 + dates.back()};
});
const auto finalize_or_cancel = step(
  "finalize_or_cancel",
  [](std::vector<booking> flights, std::vector<booking> hotels) {
    std::string receipt = "receipt:";
    for (auto& b : flights)
      receipt += " [" + b + "]";
    for (auto& b : hotels)
      receipt += " [" + b + "]";
    return receipt;
  });
const auto book_trip = step(
  "book_trip",
  [](std::string origin, std::string dest,
     std::vector<std::string> dates) -> flow<std::string> {
    auto f1 = book_flight(origin, dest, dates[0]);
    auto f2 = book_flight(dest, origin, dates[1]);
    auto hotel = book_hotel(dest, dates);
    return finalize_or_cancel(std::vector{f1, f2}, std::vector{hotel});
  });

int main() {
  engine eng;
  auto receipt = eng.run(book_trip("OAK", "SAN", std::vector<std::string>{
                                                   "6/12", "7/5"}));
  std::printf("%s\n", receipt.c_str());
}
