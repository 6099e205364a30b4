// SPDX-License-Identifier: Apache-2.0
// Continue-as-new in the CLI: `perdure show` names the run and the kept
// earlier runs, `perdure history ID --run N` prints a kept run's records
// as first stored (text and --json), the live run by its number too, and
// a run that is not kept is a clear error; `perdure delete` takes the
// kept runs along.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

using namespace perdure;
using nlohmann::json;

namespace {

flow<int> clr_loop_impl(int i, int limit);
const auto clr_loop = step("clr_loop", clr_loop_impl);
flow<int> clr_loop_impl(int i, int limit) {
  if (i >= limit)
    return i * 10;
  return continue_as_new(clr_loop(i + 1, limit));
}

} // namespace

TEST_CASE("perdure history --run prints a kept earlier run, and show names "
          "the run") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  {
    engine eng{{.storage = storage, .keep_runs = 3}};
    CHECK(eng.run(clr_loop(0, 5), "clr") == 50);
  }
  auto cli = [&](std::vector<std::string> a) {
    a.insert(a.begin(), {"--storage", storage});
    return test::run_perdure(a);
  };
  auto show = cli({"show", "clr", "--json"});
  REQUIRE_MESSAGE(show.code == 0, show.err);
  auto wj = json::parse(show.out)["workflow"];
  CHECK(wj["run"] == 6);
  CHECK(wj["kept_runs"] == json::array({3, 4, 5}));
  auto text = cli({"show", "clr"});
  REQUIRE_MESSAGE(text.code == 0, text.err);
  CHECK(text.out.find("kept earlier runs: 3-5") != std::string::npos);

  auto old = cli({"history", "clr", "--run", "4", "--json"});
  REQUIRE_MESSAGE(old.code == 0, old.err);
  auto recs = json::parse(old.out);
  REQUIRE(recs.size() >= 3);
  CHECK(recs.front()["kind_name"] == "workflow_submitted");
  CHECK(recs.front()["payload"]["run"] == 4);
  CHECK(recs.back()["kind_name"] == "workflow_continued");
  CHECK(recs.back()["payload"]["step"] == "clr_loop");
  auto old_text = cli({"history", "clr", "--run", "4"});
  REQUIRE_MESSAGE(old_text.code == 0, old_text.err);
  CHECK(old_text.out.find("run 4 of clr") != std::string::npos);
  CHECK(old_text.out.find("workflow_continued") != std::string::npos);

  // The live run by its number is the plain history.
  auto live = cli({"history", "clr", "--run", "6", "--json"});
  REQUIRE_MESSAGE(live.code == 0, live.err);
  auto lj = json::parse(live.out);
  CHECK(lj.front()["payload"]["run"] == 6);
  CHECK(lj.back()["kind_name"] == "workflow_succeeded");
  CHECK(lj == json::parse(cli({"history", "clr", "--json"}).out));

  auto gone = cli({"history", "clr", "--run", "2"});
  CHECK(gone.code == 2);
  CHECK(gone.err.find("run 2 of workflow 'clr' is not kept (kept earlier "
                      "runs: 3-5; live run: 6)")
        != std::string::npos);

  auto del = cli({"delete", "clr"});
  REQUIRE_MESSAGE(del.code == 0, del.err);
  auto after = cli({"history", "runs/clr/4"});
  CHECK(after.code == 2);
}
