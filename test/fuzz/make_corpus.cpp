// SPDX-License-Identifier: Apache-2.0
// Writes the seed corpus of the fuzz targets: valid encodings of
// representative payloads (codec/) and framed records, directory entries and
// small values under log, timer and plain keys (record/).
// Usage: make_corpus DIR   (writes DIR/codec/* and DIR/record/*)

#include "codec_checks.hpp"
#include "record_checks.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <flatbuffers/flexbuffers.h>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;
using namespace perdure;
using namespace perdure::fuzz;

int written = 0;

void put(const fs::path& dir, const std::string& name, std::string_view bytes) {
  std::ofstream out{dir / name, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ++written;
}

template <class T>
void put_value(const fs::path& dir, const std::string& name, const T& v) {
  put(dir, name, codec::encode(v));
}

std::string finished(flexbuffers::Builder& b) {
  b.Finish();
  return {reinterpret_cast<const char*>(b.GetBuffer().data()),
          b.GetBuffer().size()};
}

order sample_order() {
  order o;
  o.id = "o-1001";
  o.lines.push_back(
      {"tea", 2, 3.5, std::nullopt, line_state::open, percent{0}});
  o.lines.push_back(
      {"cake", 1, 4.25, "no nuts", line_state::shipped, percent{15}});
  o.totals = {{"net", 1125}, {"tax", 214}};
  o.reference = std::string{"PO-7"};
  o.extra = {true, 0.5f, codec::bytes{std::string{"\x00\x01\xff", 3}}};
  o.tags = {"gift", "priority"};
  o.origin = {-3, 0, 12};
  return o;
}

void codec_seeds(const fs::path& dir) {
  put_value(dir, "order", sample_order());
  order odd = sample_order();
  odd.totals[std::string{"nul\0key", 7}] = -1; // forces the pair form
  odd.reference = std::int64_t{-42};
  put_value(dir, "order_pair_keys", odd);
  put_value(dir, "orders_shared_keys", std::vector<order>(3, sample_order()));
  put_value(dir, "tree", tree{"root", {{"a", {{"a1", {}}}}, {"b", {}}}});
  put_value(dir, "map_str_i64",
            std::map<std::string, std::int64_t>{{"a", 1}, {"b", 1LL << 40}});
  put_value(dir, "map_i32_str",
            std::map<std::int32_t, std::string>{{-1, "minus"}, {2, "two"}});
  using var = std::variant<std::monostate, std::int64_t, std::string,
                           std::vector<double>>;
  put_value(dir, "variant_null", var{});
  put_value(dir, "variant_vec", var{std::vector<double>{0.5, -1e300}});
  put_value(dir, "optional_set", std::optional<std::uint32_t>{7});
  put_value(dir, "vec_str", std::vector<std::string>{"a", "", "grüße"});
  put_value(dir, "vec_u8", std::vector<std::uint8_t>{0, 1, 2, 254, 255});
  put_value(dir, "vec_f32", std::vector<float>{0.1f, -2.0f});
  put_value(dir, "vec_bool", std::vector<bool>{true, false, true});
  put_value(dir, "i64_min", std::numeric_limits<std::int64_t>::min());
  put_value(dir, "f64_nan", std::nan(""));
  put_value(dir, "str_bad_utf8", std::string{"ok \xff\xc3 \"q\"\n", 10});
  put_value(dir, "percent", percent{99});

  // Forms our encoder never writes but FlexBuffers allows: indirect
  // numbers, fixed and typed vectors, keys as values.
  flexbuffers::Builder b;
  b.Map([&] {
    b.IndirectInt("ii", -5);
    b.IndirectUInt("iu", 6);
    b.IndirectFloat("if", 0.25f);
    b.IndirectDouble("id", 0.1);
    int xy[2] = {1, 2};
    b.FixedTypedVector("fixed", xy, 2);
    float xyz[3] = {1.5f, 2, 3};
    b.FixedTypedVector("fixed3", xyz, 3);
    b.TypedVector("keys", [&] {
      b.Key("k1");
      b.Key("k2");
    });
    b.Vector("mixed", [&] {
      b.Int(1);
      b.Double(0.5);
      b.Bool(false);
      b.Null();
      b.String("s");
      b.Blob("blob", 4);
    });
  });
  put(dir, "flexbuffers_forms", finished(b));
}

std::string record_input(std::string_view key, std::string_view value) {
  std::string in(1, static_cast<char>(key.size()));
  in.append(key);
  in.append(value);
  return in;
}

void record_seeds(const fs::path& dir) {
  using namespace perdure::eventlog::detail;
  std::string key = log_key("wf-1", 7);
  put(dir, "record",
      record_input(key, frame_record(key, 3, 1700000000000000000, "engine-a",
                                     codec::encode(sample_order()))));
  key = log_key("actor/counter", 1);
  put(dir, "record_empty", record_input(key, frame_record(key, 1, -1, "", "")));

  eventlog::stream_info info;
  info.id = "wf-1";
  info.kind = eventlog::stream_kind::workflow;
  info.status = "running";
  info.created = 1700000000000000000;
  info.updated = 1700000000500000000;
  info.first_seq = 1;
  info.last_seq = 7;
  info.snapshot_seq = 4;
  info.metadata = codec::encode(std::map<std::string, std::string>{{"k", "v"}});
  put(dir, "entry", record_input(info.id, frame_entry(info.id, info)));

  key = timer_key(1700000000000000000, "wf-1", "sleep#2");
  put(dir, "timer_small", record_input(key, frame_small(key, "")));
  std::string offset;
  put_be64(offset, 12345);
  put(dir, "offset_small",
      record_input("orders/0", frame_small("orders/0", offset)));
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  fs::path root{argv[1]};
  fs::create_directories(root / "codec");
  fs::create_directories(root / "record");
  codec_seeds(root / "codec");
  record_seeds(root / "record");
  std::printf("wrote %d seeds under %s\n", written, root.c_str());
  return 0;
}
