// SPDX-License-Identifier: Apache-2.0
// A partition's LMDB store as a replica_store: groups in the journal's
// encoding applied with their fence state in the same transaction; reopen;
// a SIGKILLed applier resumes exactly; fenced groups are never applied.

#include "perdure/cluster/lmdb_replica_store.hpp"

#include "perdure/cluster/memory_log.hpp"

#include "child_process.hpp"
#include "store_options.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <cstdio>

using namespace perdure;
using namespace perdure::cluster;
using namespace std::chrono_literals;
using perdure::test::store_options;
namespace el = perdure::eventlog;

namespace {

const node_identity a{"a", 1};
const node_identity b{"b", 1};

// A group appending `payload` to `stream`, stamped `now`.
std::string group_bytes(const std::string& stream, const std::string& payload,
                        el::time_ns now) {
  el::write_batch wb;
  wb.append(stream, 7, payload);
  std::vector<el::write_batch> v;
  v.push_back(std::move(wb));
  return encode_group_bytes(now, v);
}

void put(memory_log& log, const log_entry& e) {
  log.append(encode(e), [](result<log_offset>) {});
  log.settle();
}

std::vector<std::string> payloads(el::event_log& log, const char* stream) {
  std::vector<std::string> out;
  auto recs = log.read(stream);
  if (recs)
    for (auto& r : *recs)
      out.push_back(r.payload);
  return out;
}

using strings = std::vector<std::string>;

// The log every applier of the crash test reads: a claim by `a` at 0,
// then groups 1..n appending "g<i>" to stream "s" (offset i).
void fill(memory_log& log, int n) {
  put(log, claim_entry{a});
  for (int i = 1; i <= n; ++i)
    log.append(encode(group_entry{0, a, static_cast<std::uint64_t>(i),
                                  group_bytes("s", "g" + std::to_string(i),
                                              1000 + i)}),
               [](result<log_offset>) {});
  log.settle();
}

} // namespace

TEST_CASE("group bytes and fence states round-trip, damaged ones are corruption") {
  el::write_batch b1, b2;
  b1.append("x", 3, "one").put_offset("k", 5);
  b2.create("y", el::stream_kind::actor, "meta").set_status("y", "ok");
  std::vector<el::write_batch> v;
  v.push_back(std::move(b1));
  v.push_back(std::move(b2));
  auto bytes = encode_group_bytes(42, v);
  auto back = el::decode_group(bytes);
  REQUIRE(back);
  CHECK(back->now == 42);
  REQUIRE(back->batches.size() == 2);
  CHECK(back->batches[0].ops().size() == 2);
  CHECK(back->batches[1].ops()[0].data == "meta");
  for (std::size_t i = 0; i < bytes.size(); i += 7) {
    auto bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    auto r = el::decode_group(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::corruption);
  }
  CHECK_FALSE(el::decode_group(bytes.substr(0, bytes.size() - 1)));
  CHECK_FALSE(el::decode_group(""));
  fence_state s{17, 4, node_identity{"node-x", 33}, 9};
  auto f = decode_fence_state(encode_fence_state(s));
  REQUIRE(f);
  CHECK(*f == s);
  CHECK(decode_fence_state("x").error().code() == errc::corruption);
  s.owner_endpoint = "127.0.0.1:4711";
  f = decode_fence_state(encode_fence_state(s));
  REQUIRE(f);
  CHECK(*f == s);
  // format 1 (before claims carried endpoints): the node id is the rest
  auto v1 = encode_fence_state(fence_state{17, 4, node_identity{"node-x", 33},
                                           9});
  v1[0] = 1;
  v1.erase(1 + 8 * 4, 1); // format 2's node id length
  f = decode_fence_state(v1);
  REQUIRE(f);
  CHECK(*f == fence_state{17, 4, node_identity{"node-x", 33}, 9});
  auto v2 = encode_fence_state(s);
  v2[1 + 8 * 4] = 100; // a node id length past the end
  CHECK(decode_fence_state(v2).error().code() == errc::corruption);
}

TEST_CASE("an LMDB replica applies groups with their stamp and resumes after reopen") {
  test::temp_dir dir;
  memory_log log{1};
  put(log, claim_entry{a});                                       // 0
  put(log, group_entry{0, a, 1, group_bytes("wf", "one", 111)});  // 1
  put(log, group_entry{0, a, 2, group_bytes("wf", "two", 222)});  // 2
  {
    auto store = lmdb_replica_store::open(store_options(dir.path()));
    REQUIRE(store);
    partition_replica r{log, **store};
    REQUIRE(r.open());
    auto j = r.poll(0ms);
    REQUIRE(j);
    CHECK(j->size() == 3);
    auto recs = (*store)->log().read("wf");
    REQUIRE(recs);
    REQUIRE(recs->size() == 2);
    CHECK((*recs)[0].payload == "one");
    CHECK((*recs)[0].time == 111);
    CHECK((*recs)[0].writer == "a");
    CHECK((*recs)[1].time == 222);
  }
  put(log, group_entry{0, a, 3, group_bytes("wf", "three", 333)}); // 3
  auto store = lmdb_replica_store::open(store_options(dir.path()));
  REQUIRE(store);
  auto loaded = (*store)->load();
  REQUIRE(loaded);
  CHECK(loaded->next == 3);
  CHECK(loaded->epoch == 0);
  CHECK(loaded->owner == a);
  CHECK(loaded->last_sequence == 2);
  partition_replica r{log, **store};
  REQUIRE(r.open());
  auto j = r.poll(0ms);
  REQUIRE(j);
  REQUIRE(j->size() == 1);
  CHECK((*j)[0].offset == 3);
  CHECK(payloads((*store)->log(), "wf") == strings{"one", "two", "three"});
  CHECK((*store)->load()->next == 4);
}

TEST_CASE("an LMDB replica stopped between two groups of a batch keeps "
          "the owner's door") {
  // The store commits a batch group by group: the state stored after an
  // intermediate group must be whole (a node restarted there used to read
  // the owner without its door and could not forward to it).
  test::temp_dir dir;
  memory_log log{1};
  put(log, claim_entry{a, "127.0.0.1:7001"});                     // 0
  put(log, group_entry{0, a, 1, group_bytes("wf", "one", 111)});  // 1
  put(log, group_entry{0, a, 2, "not a group's bytes"});          // 2
  {
    auto store = lmdb_replica_store::open(store_options(dir.path()));
    REQUIRE(store);
    partition_replica r{log, **store};
    REQUIRE(r.open());
    auto j = r.poll(0ms);
    REQUIRE_FALSE(j);
    CHECK(j.error().code() == errc::corruption);
  }
  auto store = lmdb_replica_store::open(store_options(dir.path()));
  REQUIRE(store);
  auto loaded = (*store)->load();
  REQUIRE(loaded);
  CHECK(loaded->next == 2);
  CHECK(loaded->owner == a);
  CHECK(loaded->owner_endpoint == "127.0.0.1:7001");
  CHECK(payloads((*store)->log(), "wf") == strings{"one"});
}

TEST_CASE("an LMDB replica never applies a fenced, foreign or duplicate group") {
  test::temp_dir dir;
  memory_log log{2};
  put(log, claim_entry{a});                                     // 0
  put(log, group_entry{0, a, 1, group_bytes("s", "a1", 1)});    // 1
  put(log, claim_entry{b});                                     // 2
  put(log, group_entry{0, a, 2, group_bytes("s", "zombie", 2)}); // 3
  put(log, group_entry{2, a, 3, group_bytes("s", "foreign", 3)}); // 4
  put(log, group_entry{2, b, 1, group_bytes("s", "b1", 4)});    // 5
  put(log, group_entry{2, b, 1, group_bytes("s", "b1", 4)});    // 6 dup
  put(log, group_entry{2, b, 2, ""});                           // 7 barrier
  auto store = lmdb_replica_store::open(store_options(dir.path()));
  REQUIRE(store);
  partition_replica r{log, **store};
  REQUIRE(r.open());
  REQUIRE(r.poll(0ms));
  CHECK(payloads((*store)->log(), "s") == strings{"a1", "b1"});
  auto st = (*store)->load();
  REQUIRE(st);
  CHECK(st->next == 8);
  CHECK(st->epoch == 2);
  CHECK(st->owner == b);
  CHECK(st->last_sequence == 2);
}

TEST_CASE("applying again what an LMDB store holds changes nothing") {
  test::temp_dir dir;
  auto store = lmdb_replica_store::open(store_options(dir.path()));
  REQUIRE(store);
  std::vector<applied_group> groups{
    {1, group_entry{0, a, 1, group_bytes("s", "x", 5)}},
    {2, group_entry{0, a, 2, group_bytes("s", "y", 6)}}};
  fence_state after{3, 0, a, 2};
  std::vector<log_offset> seen;
  (*store)->on_applied(
    [&](log_offset o, std::span<const result<el::commit_info>> r) {
      seen.push_back(o);
      CHECK(r.size() == 1);
    });
  REQUIRE((*store)->apply(groups, after));
  // A replica resuming behind its store, or a retry, hands them again.
  REQUIRE((*store)->apply(groups, after));
  REQUIRE((*store)->apply(std::span{groups}.subspan(1), after));
  CHECK(payloads((*store)->log(), "s") == strings{"x", "y"});
  CHECK(seen == std::vector<log_offset>{1, 2});
  CHECK(*(*store)->load() == after);
  // A refused batch is the group's outcome, the same on every replica.
  el::write_batch wb;
  wb.append("s", 7, "z").expect_last("s", 99);
  std::vector<el::write_batch> v;
  v.push_back(std::move(wb));
  std::vector<applied_group> g3{
    {3, group_entry{0, a, 3, encode_group_bytes(7, v)}}};
  REQUIRE((*store)->apply(g3, fence_state{4, 0, a, 3}));
  CHECK(payloads((*store)->log(), "s") == strings{"x", "y"});
  CHECK((*store)->load()->next == 4);
  // Damaged group bytes stop the apply: corruption, nothing stored.
  std::vector<applied_group> bad{{4, group_entry{0, a, 4, "garbage"}}};
  auto st = (*store)->apply(bad, fence_state{5, 0, a, 4});
  CHECK(st.code() == errc::corruption);
  CHECK((*store)->load()->next == 4);
}

// Applies the crash test's log (args: dir, groups) a few records per poll,
// printing "next N" after each, until done; then "done".
PERDURE_CHILD_ENTRY("lmdb_replica_apply") {
  auto n = std::stoi(args.at(1));
  memory_log log{3};
  fill(log, n);
  auto store = lmdb_replica_store::open(store_options(args.at(0)));
  if (!store)
    return 2;
  partition_replica r{log, **store};
  if (!r.open())
    return 3;
  while (r.state().next <= n) {
    if (!r.poll(0ms, 5))
      return 4;
    std::printf("next %lld\n", static_cast<long long>(r.state().next));
    std::fflush(stdout);
  }
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}

TEST_CASE("a SIGKILLed LMDB replica resumes with every group applied exactly once") {
  test::temp_dir dir;
  constexpr int n = 3000;
  long long last = 0;
  for (int round = 0; round < 4; ++round) {
    test::child_process child{"lmdb_replica_apply",
                              {dir.path().string(), std::to_string(n)}};
    // Kill it once it made progress past what the last round saw.
    long long target = last + 300;
    for (;;) {
      // The limit only bounds a failing run (a loaded machine is slow).
      auto line = child.read_line(300s);
      REQUIRE_FALSE(line.empty());
      if (line == "done")
        break;
      long long next = 0;
      REQUIRE(std::sscanf(line.c_str(), "next %lld", &next) == 1);
      if (next >= target)
        break;
    }
    child.kill();
    auto store = lmdb_replica_store::open(store_options(dir.path()));
    REQUIRE(store);
    auto st = (*store)->load();
    REQUIRE(st);
    CHECK(st->next >= target);
    auto got = payloads((*store)->log(), "s");
    // Exactly the groups below the stored resume point, once, in order.
    REQUIRE(got.size() == static_cast<std::size_t>(st->next - 1));
    for (std::size_t i = 0; i < got.size(); ++i)
      REQUIRE(got[i] == "g" + std::to_string(i + 1));
    last = st->next;
  }
  // The last applier finishes the log.
  test::child_process child{"lmdb_replica_apply",
                            {dir.path().string(), std::to_string(n)}};
  std::string line;
  do
    line = child.read_line(300s);
  while (!line.empty() && line != "done");
  CHECK(line == "done");
  CHECK(child.wait() == 0);
  auto store = lmdb_replica_store::open(store_options(dir.path()));
  REQUIRE(store);
  auto got = payloads((*store)->log(), "s");
  REQUIRE(got.size() == static_cast<std::size_t>(n));
  CHECK(got.back() == "g" + std::to_string(n));
  auto damage = (*store)->log().verify();
  REQUIRE(damage);
  CHECK(damage->empty());
}

TEST_CASE("an LMDB replica store works with the journal too, and refuses modes where a caller cannot commit") {
  test::temp_dir dir;
  auto o = store_options(dir.path());
  o.mode = el::durability::sync; // the journal (sync_policy's default)
  std::vector<applied_group> groups{
    {1, group_entry{0, a, 1, group_bytes("s", "j1", 5)}},
    {2, group_entry{0, a, 2, group_bytes("s", "j2", 6)}}};
  {
    auto store = lmdb_replica_store::open(o);
    REQUIRE(store);
    REQUIRE((*store)->apply(groups, fence_state{3, 0, a, 2}));
  }
  auto store = lmdb_replica_store::open(o);
  REQUIRE(store);
  CHECK(payloads((*store)->log(), "s") == strings{"j1", "j2"});
  CHECK((*store)->load()->next == 3);
  test::temp_dir other;
  auto p = store_options(other.path());
  p.mode = el::durability::sync;
  p.sync = el::sync_policy::per_commit;
  auto refused = lmdb_replica_store::open(p);
  REQUIRE(refused);
  auto st = (*refused)->apply(groups, fence_state{3, 0, a, 2});
  CHECK(st.code() == errc::unsupported);
  CHECK(payloads((*refused)->log(), "s").empty());
}
