// SPDX-License-Identifier: Apache-2.0
// verify over a 1,000,000-record log, run as a subprocess, with one record
// damaged on disk. Prints the time verify took.

#include <doctest/doctest.h>

#include "cli_runner.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <map>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace perdure::test;
using nlohmann::json;

TEST_CASE("verify checks a million records within seconds and names the "
          "damaged one") {
  constexpr int streams = 100;
  constexpr int per_stream = 10'000;
  constexpr int per_batch = 2'000;
  const std::string marker = "MARKER-7d3e-damaged-record";
  const std::string victim = "wf-0042";
  constexpr eventlog::seq_t victim_seq = 5'000;
  temp_dir dir;
  auto t0 = std::chrono::steady_clock::now();
  {
    auto log = open_log(dir.path());
    // A payload shaped like a step's result.
    auto payload = codec::encode(std::map<std::string, std::string>{
      {"id", "step_17"}, {"output", "a result of some forty bytes....."}});
    std::vector<std::future<result<eventlog::commit_info>>> pending;
    for (int s = 0; s < streams; ++s) {
      auto id = fmt::format("wf-{:04}", s);
      for (int from = 0; from < per_stream; from += per_batch) {
        eventlog::write_batch b;
        if (from == 0)
          b.create(id, eventlog::stream_kind::workflow);
        for (int i = from; i < from + per_batch; ++i) {
          bool is_victim = id == victim && i + 1 == static_cast<int>(victim_seq);
          b.append(id, eventlog::to_u16(eventlog::record_kind::step_succeeded),
                   is_victim ? codec::encode(marker) : payload);
        }
        pending.push_back(log->submit(std::move(b)));
      }
      if (pending.size() >= 64) {
        for (auto& f : pending)
          REQUIRE(f.get());
        pending.clear();
      }
    }
    for (auto& f : pending)
      REQUIRE(f.get());
    REQUIRE(log->info(victim)->last_seq == per_stream);
  }
  auto build_s = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - t0)
                   .count();
  std::string bytes;
  {
    std::ifstream in{dir / "data.mdb", std::ios::binary};
    bytes.assign(std::istreambuf_iterator<char>{in}, {});
  }
  int flipped = 0;
  for (auto pos = bytes.find(marker); pos != std::string::npos;
       pos = bytes.find(marker, pos + 1), ++flipped)
    bytes[pos + 3] ^= 0x01;
  REQUIRE(flipped >= 1);
  {
    std::ofstream out{dir / "data.mdb", std::ios::binary | std::ios::trunc};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  auto t1 = std::chrono::steady_clock::now();
  auto r = run_perdure({"--storage", dir.path().string(), "verify", "--json"});
  auto verify_s = std::chrono::duration<double>(
                    std::chrono::steady_clock::now() - t1)
                    .count();
  MESSAGE(fmt::format("built {} records ({} MiB) in {:.2f} s; perdure verify "
                      "took {:.2f} s wall ({:.2f} s inside verify)",
                      streams * per_stream, bytes.size() >> 20, build_s,
                      verify_s,
                      r.code == 3 ? json::parse(r.out)["seconds"].get<double>()
                                  : -1.0));
  REQUIRE_MESSAGE(r.code == 3, r.err);
  auto j = json::parse(r.out);
  CHECK(j["entries"].get<std::uint64_t>() >= streams * per_stream);
  REQUIRE(j["damage"].size() == 1);
  CHECK(j["damage"][0]["stream"] == victim);
  CHECK(j["damage"][0]["seq"] == victim_seq);
  WARN_MESSAGE(verify_s <= 10.0, "verify took more than the 10 s goal");
}
