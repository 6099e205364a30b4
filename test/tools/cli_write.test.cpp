// SPDX-License-Identifier: Apache-2.0
// The commands that write or follow a live log, run as a subprocess beside
// an open exclusive writer standing in for a running engine.

#include <doctest/doctest.h>

#include "cli_runner.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <csignal>
#include <unistd.h>

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace perdure::test;
using nlohmann::json;

namespace {

cli_result cli(const temp_dir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"--storage", dir.path().string()});
  return run_perdure(args);
}

} // namespace

TEST_CASE("cancel writes a canceled record beside a running engine") {
  temp_dir dir;
  auto engine = open_log(dir.path()); // holds the writer lock meanwhile
  write_fixture(*engine);
  auto r = cli(dir, {"cancel", "pending_job"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "canceled workflow 'pending_job' (was running; record seq 3)\n");
  auto info = engine->info("pending_job");
  REQUIRE(info);
  CHECK(info->status == "canceled");
  CHECK(info->last_seq == 3);
  auto last = engine->read_last("pending_job");
  REQUIRE(last);
  CHECK(last->kind == eventlog::to_u16(eventlog::record_kind::workflow_canceled));
  CHECK(last->writer == "perdure-cli");
  auto payload = json::parse(*codec::to_json(last->payload));
  CHECK(payload["requested_by"] == "cli");
  CHECK(engine->list_by_status("canceled")->size() == 1);
  // The engine keeps writing after the CLI did.
  finish_pending_step(*engine);
  CHECK(engine->info("pending_job")->last_seq == 4);
}

TEST_CASE("cancel refuses finished workflows and other streams") {
  temp_dir dir;
  {
    auto log = open_log(dir.path());
    write_fixture(*log);
  }
  auto done = cli(dir, {"cancel", "sum_example"});
  CHECK(done.code == 5);
  CHECK(done.err == "perdure: workflow 'sum_example' already finished "
                    "(successful); there is nothing to cancel\n");
  auto actor = cli(dir, {"cancel", "counter_1"});
  CHECK(actor.code == 5);
  CHECK(actor.err.find("cancel works on workflows") != std::string::npos);
  // A failed workflow can be canceled (it is no longer resumable then).
  auto failed = cli(dir, {"--json", "cancel", "flaky"});
  REQUIRE_MESSAGE(failed.code == 0, failed.err);
  auto j = json::parse(failed.out);
  CHECK(j["canceled"] == true);
  CHECK(j["previous_status"] == "failed");
  auto again = cli(dir, {"cancel", "flaky"});
  CHECK(again.code == 5);
  CHECK(again.err == "perdure: workflow 'flaky' is already canceled\n");
}

TEST_CASE("delete refuses a workflow a running engine runs, and removes a "
          "finished one") {
  temp_dir dir;
  auto engine = open_log(dir.path());
  write_fixture(*engine);
  auto running = cli(dir, {"delete", "pending_job"});
  CHECK(running.code == 5);
  CHECK(running.err.find("workflow 'pending_job' is running (engine pid "
                         + std::to_string(::getpid()))
        != std::string::npos);
  CHECK(running.err.find("perdure cancel pending_job") != std::string::npos);
  CHECK(engine->info("pending_job"));

  auto r = cli(dir, {"delete", "sum_example"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "deleted workflow 'sum_example' (8 records, was successful)\n");
  CHECK(engine->info("sum_example").error() == errc::not_found);
  CHECK(engine->list_by_status("successful")->size() == 1);
  CHECK(cli(dir, {"show", "sum_example"}).code == 2);
  CHECK(cli(dir, {"delete", "sum_example"}).code == 2);
}

TEST_CASE("delete removes a resumable workflow when no engine runs") {
  temp_dir dir;
  {
    auto log = open_log(dir.path());
    write_fixture(*log);
  }
  auto r = cli(dir, {"--json", "delete", "pending_job"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto j = json::parse(r.out);
  CHECK(j["deleted"] == true);
  CHECK(j["status"] == "resumable");
  CHECK(cli(dir, {"history", "pending_job"}).code == 2);
  CHECK(cli(dir, {"show", "sum_example"}).code == 0);
}

TEST_CASE("history --follow prints records appended while it runs and "
          "stops on SIGINT") {
  temp_dir dir;
  auto engine = open_log(dir.path());
  write_fixture(*engine);
  cli_process p{{"--storage", dir.path().string(), "history", "pending_job",
                 "--follow", "--json"}};
  REQUIRE(p.wait_for_out("\"step_started\""));
  CHECK(p.peek_out().find("step_succeeded") == std::string::npos);
  finish_pending_step(*engine);
  REQUIRE(p.wait_for_out("\"step_succeeded\""));
  p.signal(SIGINT);
  auto r = p.wait();
  CHECK(r.code == 0);
  // JSON lines: one record per line, in order.
  std::vector<json> recs;
  std::size_t start = 0;
  for (auto nl = r.out.find('\n'); nl != std::string::npos;
       start = nl + 1, nl = r.out.find('\n', start))
    recs.push_back(json::parse(r.out.substr(start, nl - start)));
  REQUIRE(recs.size() == 3);
  CHECK(recs[2]["seq"] == 3);
  CHECK(recs[2]["payload"]["output"] == 7);
}

TEST_CASE("history --follow ends when the workflow ends, after its last "
          "record") {
  temp_dir dir;
  auto log = open_log(dir.path());
  write_fixture(*log);
  cli_process p{{"--storage", dir.path().string(), "history", "pending_job",
                 "--follow"}};
  REQUIRE(p.wait_for_out("step_started"));
  finish_pending_step(*log);
  REQUIRE(p.wait_for_out("step_succeeded"));
  end_pending_job(*log);
  auto r = p.wait(); // no SIGINT, no timeout: it ends by itself
  CHECK(r.code == 0);
  CHECK(r.out.find("workflow_succeeded") != std::string::npos);
  CHECK(r.err.find("ended: successful") != std::string::npos);
  // One that had ended before: printed, then done at once.
  auto done = cli(dir, {"history", "dyn", "--follow"});
  CHECK(done.code == 0);
  CHECK(done.out.find("workflow_succeeded") != std::string::npos);
}

TEST_CASE("history --follow-timeout stops following by itself") {
  temp_dir dir;
  {
    auto log = open_log(dir.path());
    write_fixture(*log);
  }
  auto r = cli(dir, {"history", "counter_1", "--follow",
                     "--follow-timeout", "0.3"});
  CHECK(r.code == 0);
  CHECK(r.out.find("actor_called") != std::string::npos);
}
