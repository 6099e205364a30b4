// SPDX-License-Identifier: Apache-2.0
// The built `perdure` CLI on a cluster partition's store (a real
// lmdb_replica_store that applied a claim and a group from a log): it
// reads the store as any storage, and refuses every command that would
// write to it (a change written beside the replica would reach no other
// node and be lost at the next failover), leaving the store as it was.

#include "perdure/cluster/lmdb_replica_store.hpp"
#include "perdure/cluster/memory_log.hpp"

#include "cli_runner.hpp"
#include "store_options.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

using namespace perdure;
using namespace perdure::cluster;
using namespace std::chrono_literals;
using perdure::test::store_options;
namespace el = perdure::eventlog;

namespace {

const node_identity owner{"node-a", 1};

// A partition store that applied a claim and one group: workflow
// "order-1", running, with one record; and the same in a plain store.
void fill(el::event_log& plain, const std::filesystem::path& dir) {
  auto batch = [] {
    el::write_batch wb;
    wb.create("order-1", el::stream_kind::workflow, "");
    wb.set_status("order-1", "running");
    wb.append("order-1", 1, "submitted");
    return wb;
  };
  memory_log log{1};
  auto put = [&](const log_entry& e) {
    log.append(encode(e), [](result<log_offset>) {});
    log.settle();
  };
  put(claim_entry{owner, "127.0.0.1:7001"});
  std::vector<el::write_batch> v;
  v.push_back(batch());
  put(group_entry{0, owner, 1, encode_group_bytes(1000, v)});
  auto store = lmdb_replica_store::open(store_options(dir));
  REQUIRE(store);
  partition_replica r{log, **store};
  REQUIRE(r.open());
  auto applied = r.poll(0ms);
  REQUIRE(applied);
  REQUIRE(applied->size() == 2);
  REQUIRE(plain.commit(batch()));
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("the CLI reads a cluster partition's store and refuses to change "
          "it") {
  test::temp_dir dir, plain_dir;
  auto part = dir.path() / "p-0000";
  {
    auto plain = el::event_log::open(store_options(plain_dir.path()));
    REQUIRE(plain);
    fill(**plain, part);
  }
  auto cli = [](const std::filesystem::path& storage,
                std::vector<std::string> args) {
    args.insert(args.begin(), {"--storage", storage.string()});
    return test::run_perdure(args);
  };
  auto list = cli(part, {"--json", "list"});
  REQUIRE_MESSAGE(list.code == 0, list.err);
  CHECK(has(list.out, "\"order-1\""));
  auto history = cli(part, {"history", "order-1"});
  CHECK_MESSAGE(history.code == 0, history.err);

  const std::vector<std::vector<std::string>> writes{
    {"cancel", "order-1"},
    {"delete", "order-1"},
    {"signal", "order-1", "approved", "true"},
    {"promise", "complete", "paid@order-1", "1"},
    {"schedule", "pause", "nightly"},
    {"projection", "reset", "totals"},
    {"ui", "--listen", "127.0.0.1:0", "--allow-writes"}};
  for (const auto& args : writes) {
    auto r = cli(part, args);
    INFO(args[0], " ", args[1], ": ", r.err);
    CHECK(r.code == 5); // refused
    CHECK(has(r.err, "is a cluster partition's store"));
    CHECK(has(r.err, "lost at the next failover"));
    CHECK(r.out.empty());
  }
  // Nothing was written: the workflow and the fence state are as applied.
  {
    el::options o;
    o.dir = part;
    o.read_only = true;
    auto log = el::event_log::open(o);
    REQUIRE(log);
    auto info = (*log)->info("order-1");
    REQUIRE(info);
    CHECK(info->status == "running");
    CHECK(info->last_seq == 1);
    lmdb_replica_store store{**log};
    auto fence = store.load();
    REQUIRE(fence);
    CHECK(fence->next == 2);
    CHECK(fence->owner == owner);
  }
  // The same command on a plain store is not refused for being one.
  auto plain = cli(plain_dir.path(), {"cancel", "order-1"});
  CHECK_MESSAGE(plain.code == 0, plain.err);
}
