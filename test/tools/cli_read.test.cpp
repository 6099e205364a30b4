// SPDX-License-Identifier: Apache-2.0
// The reading commands, run as a subprocess: list, show, history, output,
// export, replay, graph, stats, and the errors of bad input.

#include <doctest/doctest.h>

#include "cli_runner.hpp"
#include "perdure/eventlog/types.hpp"
#include "perdure/version.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace perdure::test;
using nlohmann::json;

namespace {

// A storage with the fixture's streams; the writer is closed again.
struct fixture {
  temp_dir dir;
  fixture() {
    auto log = open_log(dir.path());
    write_fixture(*log);
  }
  cli_result run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--storage", dir.path().string()});
    return run_perdure(args);
  }
  json run_json(std::vector<std::string> args) const {
    args.push_back("--json");
    auto r = run(args);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(r.err.empty());
    return json::parse(r.out);
  }
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    if (nl == std::string::npos)
      break;
    start = nl + 1;
  }
  return out;
}

bool has_line(const std::string& text, std::initializer_list<const char*> words) {
  for (auto& l : lines(text)) {
    bool all = true;
    std::size_t pos = 0;
    for (auto* w : words) {
      pos = l.find(w, pos);
      if (pos == std::string::npos) {
        all = false;
        break;
      }
    }
    if (all)
      return true;
  }
  return false;
}

} // namespace

TEST_CASE("list prints an aligned table of every stream, without colour "
          "when stdout is not a terminal") {
  fixture f;
  auto r = f.run({"list"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto ls = lines(r.out);
  REQUIRE(ls.size() == 6);
  CHECK(ls[0].rfind("ID", 0) == 0);
  auto status_col = ls[0].find("STATUS");
  REQUIRE(status_col != std::string::npos);
  // Columns line up: every row has its status where the header has it.
  CHECK(ls[1].rfind("counter_1", 0) == 0);
  CHECK(ls[1].substr(status_col, 6) == "active");
  CHECK(has_line(r.out, {"flaky", "workflow", "failed"}));
  CHECK(has_line(r.out, {"sum_example", "workflow", "successful", "8"}));
  // No engine holds the storage, so a workflow stored as running is shown
  // as resumable.
  CHECK(has_line(r.out, {"pending_job", "workflow", "resumable", "2"}));
  CHECK(r.out.find('\x1b') == std::string::npos);
}

TEST_CASE("list --json gives every entry with kind, status and records") {
  fixture f;
  auto j = f.run_json({"list"});
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 5);
  CHECK(j[0]["id"] == "counter_1");
  CHECK(j[0]["kind"] == "actor");
  CHECK(j[4]["id"] == "sum_example");
  CHECK(j[4]["records"] == 8);
  CHECK(j[4]["first_seq"] == 1);
  CHECK(j[4]["last_seq"] == 8);
  CHECK(j[4]["status"] == "successful");
}

TEST_CASE("list filters by status through the index, by kind, and limits") {
  fixture f;
  auto ok = f.run_json({"list", "--status", "successful,failed"});
  REQUIRE(ok.size() == 3);
  CHECK(ok[0]["id"] == "dyn");
  CHECK(ok[1]["id"] == "flaky");
  CHECK(ok[2]["id"] == "sum_example");
  auto resumable = f.run_json({"list", "--status", "resumable"});
  REQUIRE(resumable.size() == 1);
  CHECK(resumable[0]["id"] == "pending_job");
  CHECK(resumable[0]["stored_status"] == "running");
  auto actors = f.run_json({"list", "--kind", "actor"});
  REQUIRE(actors.size() == 1);
  CHECK(actors[0]["id"] == "counter_1");
  CHECK(f.run_json({"list", "--limit", "2"}).size() == 2);
  auto none = f.run({"list", "--status", "canceled"});
  CHECK(none.code == 0);
  CHECK(none.out.find("no streams match") != std::string::npos);
}

TEST_CASE("show prints a workflow's entry and its steps with attempts and "
          "durations") {
  fixture f;
  auto r = f.run({"show", "sum_example"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has_line(r.out, {"status:", "successful"}));
  CHECK(has_line(r.out, {"output:", "300"}));
  CHECK(has_line(r.out, {"user metadata:", "\"owner\":\"billing\""}));
  CHECK(has_line(r.out, {"STEP", "NAME", "STATUS", "ATTEMPTS", "START", "END",
                         "DURATION"}));
  CHECK(has_line(r.out, {"get_value1", "succeeded", "1/3"}));
  CHECK(has_line(r.out, {"sum", "succeeded", "1/3"}));

  auto failed = f.run({"show", "flaky"});
  REQUIRE(failed.code == 0);
  CHECK(has_line(failed.out, {"flaky", "failed", "2/2"}));
  CHECK(has_line(failed.out,
                 {"error:", "step 'flaky' raised std::runtime_error: boom"}));
}

TEST_CASE("show --json gives the steps of a dynamic workflow with their "
          "sub-graph and the output") {
  fixture f;
  auto j = f.run_json({"show", "dyn"});
  auto& wf = j["workflow"];
  CHECK(wf["status"] == "successful");
  CHECK(wf["output"] == 42);
  REQUIRE(wf["steps"].size() == 3);
  CHECK(wf["steps"][0]["id"] == "outer");
  CHECK(wf["steps"][0]["status"] == "succeeded");
  CHECK(wf["steps"][0]["continued_to"] == 2);
  CHECK(wf["steps"][2]["owner"] == 0);
  CHECK(wf["steps"][2]["inputs"] == json::array({1}));
  CHECK(wf["steps"][2]["duration_ns"].get<std::int64_t>() >= 0);
  CHECK(wf["problems"].empty());
}

TEST_CASE("show of an actor summarises its record kinds") {
  fixture f;
  auto r = f.run({"show", "counter_1"});
  REQUIRE(r.code == 0);
  CHECK(has_line(r.out, {"kind:", "actor"}));
  CHECK(has_line(r.out, {"actor_created", "1"}));
  CHECK(has_line(r.out, {"actor_called", "2"}));
  auto j = f.run_json({"show", "counter_1"});
  REQUIRE(j["record_kinds"].size() == 2);
  CHECK(j["record_kinds"][1]["name"] == "actor_called");
  CHECK(j["record_kinds"][1]["count"] == 2);
}

TEST_CASE("an unknown id is a one-line error with exit code 2") {
  fixture f;
  auto r = f.run({"show", "nope"});
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "perdure: no workflow or actor 'nope' in "
                   + f.dir.path().string() + " (try 'perdure list')\n");
  for (auto cmd : {"history", "output", "export", "graph", "cancel", "delete"})
    CHECK(f.run({cmd, "nope"}).code == 2);
}

TEST_CASE("history prints every record with seq, kind, writer and the "
          "payload decoded to JSON") {
  fixture f;
  auto r = f.run({"history", "sum_example"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto ls = lines(r.out);
  REQUIRE(ls.size() == 9); // header + 8 records
  CHECK(has_line(ls[0], {"SEQ", "TIME", "KIND", "WRITER", "PAYLOAD"}));
  CHECK(has_line(ls[1], {"1", "workflow_submitted", "test-engine",
                         "\"owner\":\"billing\""}));
  // The nested user values are shown as JSON, not base64.
  CHECK(has_line(ls[7], {"7", "step_succeeded", "\"output\":300"}));
  CHECK(has_line(ls[8], {"8", "workflow_succeeded"}));
}

TEST_CASE("history --json is an array of records with decoded payloads") {
  fixture f;
  auto j = f.run_json({"history", "sum_example"});
  REQUIRE(j.size() == 8);
  CHECK(j[0]["seq"] == 1);
  CHECK(j[0]["kind_name"] == "workflow_submitted");
  CHECK(j[0]["kind"] == 100);
  CHECK(j[0]["payload"]["nodes"][1]["args"][0]["value"] == 10);
  CHECK(j[0]["payload"]["root"] == 2);
  CHECK(j[6]["payload"]["output"] == 300);
  CHECK(j[6]["writer"] == "test-engine");
  CHECK(j[6]["time_ns"].get<std::int64_t>() > 0);
  auto from = f.run_json({"history", "sum_example", "--from", "7"});
  REQUIRE(from.size() == 2);
  CHECK(from[0]["seq"] == 7);
}

TEST_CASE("output prints the workflow's output or a step's as JSON") {
  fixture f;
  auto r = f.run({"output", "sum_example"});
  CHECK(r.code == 0);
  CHECK(r.out == "300\n");
  CHECK(f.run({"output", "sum_example", "--step", "get_value2"}).out == "100\n");
  CHECK(f.run({"output", "dyn"}).out == "42\n");
  CHECK(f.run({"output", "dyn", "--step", "inner_a"}).out == "20\n");

  auto failed = f.run({"output", "flaky"});
  CHECK(failed.code == 2);
  CHECK(failed.err == "perdure: workflow 'flaky' has no output: it is failed "
                      "(step 'flaky' raised std::runtime_error: boom)\n");
  auto no_step = f.run({"output", "sum_example", "--step", "nope"});
  CHECK(no_step.code == 2);
  CHECK(no_step.err.find("has no step 'nope' (steps: get_value1, get_value2, "
                         "sum)")
        != std::string::npos);
  auto actor = f.run({"output", "counter_1"});
  CHECK(actor.code == 5);
  CHECK(actor.err.find("'counter_1' is a actor stream") != std::string::npos);
}

TEST_CASE("export --json holds the entry and every record, raw payload "
          "included") {
  fixture f;
  auto j = f.run_json({"export", "sum_example"});
  CHECK(j["format"] == "perdure-export");
  CHECK(j["entry"]["id"] == "sum_example");
  REQUIRE(j["records"].size() == 8);
  CHECK(j["records"][6]["payload"]["output"] == 300);
  CHECK(!j["records"][6]["payload_base64"].get<std::string>().empty());
  // Without --json the export is JSON too.
  auto r = f.run({"export", "counter_1"});
  REQUIRE(r.code == 0);
  CHECK(json::parse(r.out)["records"].size() == 3);
}

TEST_CASE("replay --until shows the workflow's steps at that seq") {
  fixture f;
  auto j = f.run_json({"replay", "sum_example", "--until", "4"});
  CHECK(j["as_of_seq"] == 4);
  auto& wf = j["workflow"];
  CHECK(wf["status"] == "running");
  CHECK(wf["steps"][0]["status"] == "succeeded");
  CHECK(wf["steps"][1]["status"] == "running");
  CHECK(wf["steps"][2]["status"] == "pending");
  auto r = f.run({"replay", "sum_example", "--until", "4"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("as of seq 4") != std::string::npos);
  CHECK(has_line(r.out, {"get_value2", "running"}));
  auto bad = f.run({"replay", "sum_example", "--until", "99"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("outside the records of 'sum_example' (seq 1..8)")
        != std::string::npos);
  auto future = f.run_json({"replay", "sum_example", "--as-of",
                            "2200-01-01T00:00:00Z"});
  CHECK(future["as_of_seq"] == 8);
  CHECK(future["workflow"]["status"] == "successful");
  auto past = f.run({"replay", "sum_example", "--as-of", "2001-01-01 00:00:00"});
  CHECK(past.code == 2);
  CHECK(past.err.find("has no record at or before") != std::string::npos);
}

TEST_CASE("graph prints dot with each step's status, and SVG through "
          "graphviz") {
  fixture f;
  auto dot = f.run({"graph", "sum_example"});
  REQUIRE_MESSAGE(dot.code == 0, dot.err);
  CHECK(dot.out.rfind("digraph \"sum_example\"", 0) == 0);
  CHECK(dot.out.find("n0 -> n2;") != std::string::npos);
  CHECK(dot.out.find("n1 -> n2;") != std::string::npos);
  CHECK(dot.out.find("sum\\nsucceeded") != std::string::npos);
  auto dyn = f.run({"graph", "dyn"});
  CHECK(dyn.out.find("subgraph cluster_0") != std::string::npos);
  CHECK(dyn.out.find("n2 -> n0 [style=dashed") != std::string::npos);
  auto svg = f.run({"graph", "dyn", "--format", "svg"});
  REQUIRE_MESSAGE(svg.code == 0, svg.err);
  CHECK(svg.out.find("<svg") != std::string::npos);
  CHECK(svg.out.find("</svg>") != std::string::npos);
  CHECK(svg.out.find("inner_b") != std::string::npos);
  auto j = f.run_json({"graph", "sum_example"});
  CHECK(j["nodes"].size() == 3);
  CHECK(j["edges"].size() == 2);
}

TEST_CASE("stats counts streams by kind and status and the records") {
  fixture f;
  auto j = f.run_json({"stats"});
  CHECK(j["streams"] == 5);
  CHECK(j["records"] == 8 + 6 + 2 + 9 + 3);
  CHECK(j["streams_by_kind"]["workflow"] == 4);
  CHECK(j["streams_by_kind"]["actor"] == 1);
  CHECK(j["streams_by_status"]["successful"] == 2);
  CHECK(j["streams_by_status"]["resumable"] == 1);
  CHECK(j["engine_pid"].is_null());
  CHECK(j["map_size"].get<std::uint64_t>() >= j["data_file_size"].get<std::uint64_t>());
  auto r = f.run({"stats"});
  REQUIRE(r.code == 0);
  CHECK(has_line(r.out, {"records:", "28"}));
  CHECK(has_line(r.out, {"workflow", "4"}));
}

TEST_CASE("bad command lines and missing storage give clear errors and "
          "documented exit codes") {
  fixture f;
  CHECK(f.run({}).code == 1);
  auto bad = f.run({"list", "--kind", "planet"});
  CHECK(bad.code == 2); // not found: names the valid kinds
  CHECK(bad.err.rfind("perdure: ", 0) == 0);
  CHECK(bad.err.find("workflow, actor, listener") != std::string::npos);
  CHECK(f.run({"frobnicate"}).code == 2);
  CHECK(f.run({"replay", "sum_example", "--as-of", "yesterday"}).code == 1);
  auto help = f.run({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("Exit codes") != std::string::npos);

  auto missing = run_perdure({"--storage", "/nonexistent/perdure", "list"});
  CHECK(missing.code == 4);
  CHECK(missing.err == "perdure: no perdure storage in /nonexistent/perdure "
                       "(use --storage DIR or set PERDURE_STORAGE)\n");
  // $PERDURE_STORAGE is used without --storage.
  auto env = run_perdure({"list", "--json"},
                         {{"PERDURE_STORAGE", f.dir.path().string()}});
  CHECK(env.code == 0);
  CHECK(json::parse(env.out).size() == 5);
}

TEST_CASE("perdure --version prints the version and the storage format, and stats shows the format") {
  auto v = run_perdure({"--version"});
  REQUIRE(v.code == 0);
  CHECK(v.out.rfind("perdure " + std::string{perdure::version()} + " (storage format "
                      + std::to_string(eventlog::storage_format_version),
                    0)
        == 0);
  CHECK(std::string{perdure::version()}
        == std::to_string(PERDURE_VERSION_MAJOR) + "."
             + std::to_string(PERDURE_VERSION_MINOR) + "."
             + std::to_string(PERDURE_VERSION_PATCH));
  fixture f;
  auto j = f.run_json({"stats"});
  CHECK(j["format_version"] == eventlog::storage_format_version);
  CHECK(j["perdure_version"] == std::string{perdure::version()});
  auto r = f.run({"stats"});
  REQUIRE(r.code == 0);
  CHECK(has_line(r.out, {"format:", "version 1", std::string{perdure::version()}.c_str()}));
}

TEST_CASE("a mistyped command suggests the nearest ones and exits 2") {
  fixture f;
  auto r = run_perdure({"shwo", "x"});
  CHECK(r.code == 2);
  CHECK(r.err.find("'shwo' is not a perdure command") != std::string::npos);
  CHECK(r.err.find("did you mean 'show'?") != std::string::npos);
  CHECK(r.out.empty());
  // Options before the command (and their values) are skipped over.
  auto l = f.run({"--json", "lst"});
  CHECK(l.code == 2);
  CHECK(l.err.find("did you mean 'list'?") != std::string::npos);
  auto far = f.run({"frobnicate"});
  CHECK(far.code == 2);
  CHECK(far.err.find("did you mean") == std::string::npos);
  // A real command with a typo in its arguments is not a typo of a command.
  CHECK(f.run({"list", "--limit", "2"}).code == 0);
}

TEST_CASE("list --status and --kind reject unknown values naming the valid ones") {
  fixture f;
  auto r = f.run({"list", "--status", "succeeded"});
  CHECK(r.code == 2);
  CHECK(r.err.find("unknown status 'succeeded' (did you mean 'successful'?)")
        != std::string::npos);
  CHECK(r.err.find("running, resumable, failed, canceled, successful")
        != std::string::npos);
  auto two = f.run({"list", "--status", "running,faild"});
  CHECK(two.code == 2);
  CHECK(two.err.find("did you mean 'failed'?") != std::string::npos);
  auto k = f.run({"list", "--kind", "actors"});
  CHECK(k.code == 2);
  CHECK(k.err.find("did you mean 'actor'?") != std::string::npos);
  CHECK(f.run({"list", "--status", "successful,resumable"}).code == 0);
}
