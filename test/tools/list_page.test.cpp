// SPDX-License-Identifier: Apache-2.0
// list_page, shared by `perdure list` and the UI's /api/list: every page
// walk (filters, prefix, cursor, a small read budget) gives exactly what
// filtering the whole directory gives, in id order, without a repeat.

#include <doctest/doctest.h>

#include "cli_runner.hpp"
#include "commands.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

using namespace perdure;
using namespace perdure::test;
using eventlog::stream_info;
using eventlog::stream_kind;

namespace {

// 2,000 streams "a/0000".."a/0999" and "b/0000".."b/0999": every 10th an
// actor (no status), every 97th a dead-letter stream; workflows failed
// (i % 7 == 0), running (i % 3 == 0) or successful.
void write_many(eventlog::event_log& log) {
  eventlog::write_batch b;
  for (auto group : {"a", "b"})
    for (int i = 0; i < 1000; ++i) {
      auto n = std::to_string(i);
      auto id = std::string{group} + "/" + std::string(4 - n.size(), '0') + n;
      auto kind = i % 97 == 0   ? stream_kind::dead_letter
                  : i % 10 == 0 ? stream_kind::actor
                                : stream_kind::workflow;
      b.create(id, kind);
      if (kind != stream_kind::workflow)
        continue;
      b.set_status(id, i % 7 == 0   ? "failed"
                       : i % 3 == 0 ? "running"
                                    : "successful");
    }
  REQUIRE(log.commit(std::move(b)));
}

std::vector<std::string> ids(const std::vector<stream_info>& v) {
  std::vector<std::string> out;
  for (auto& s : v)
    out.push_back(s.id);
  return out;
}

// What `a` selects, by filtering every stream.
std::vector<std::string> expected(const eventlog::event_log& log,
                                  const tools::list_args& a, bool live) {
  auto all = log.list();
  REQUIRE(all.has_value());
  std::vector<std::string> out;
  for (auto& s : *all) {
    if (a.kind && eventlog::to_string(s.kind) != *a.kind)
      continue;
    if (!s.id.starts_with(a.prefix))
      continue;
    auto shown = tools::shown_status(s, live);
    if (!a.statuses.empty()
        && std::find(a.statuses.begin(), a.statuses.end(), shown)
             == a.statuses.end())
      continue;
    out.push_back(s.id);
  }
  return out;
}

// Every page of `a` from the start, concatenated.
std::vector<std::string> walk(const eventlog::event_log& log,
                              tools::list_args a, bool live) {
  std::vector<std::string> out;
  for (int pages = 0; pages < 10'000; ++pages) {
    auto page = tools::list_page(log, a, live);
    REQUIRE_MESSAGE(page.has_value(), page.as_status().to_string());
    CHECK(page->items.size() <= a.limit);
    auto got = ids(page->items);
    out.insert(out.end(), got.begin(), got.end());
    if (!page->next)
      return out;
    CHECK(*page->next > a.after); // always progresses
    a.after = *page->next;
  }
  FAIL("paging did not end");
  return out;
}

} // namespace

TEST_CASE("list_page walks equal the filtered directory") {
  temp_dir dir;
  auto log = open_log(dir.path());
  write_many(*log);
  struct filter {
    std::vector<std::string> statuses;
    std::optional<std::string> kind;
    std::string prefix;
  };
  const filter filters[] = {
    {},
    {{}, "actor", ""},
    {{}, "dead_letter", "b/"},
    {{"failed"}, {}, ""},
    {{"failed", "successful"}, {}, "a/05"},
    {{"resumable"}, "workflow", ""},
    {{"running"}, {}, "b/"},
    {{"canceled"}, {}, ""},
    {{}, {}, "a/099"},
    {{"successful"}, {}, "zzz"},
  };
  for (bool live : {false, true})
    for (auto& f : filters)
      for (std::size_t limit : {1, 7, 5000})
        for (std::size_t budget : {std::size_t{1}, std::size_t{40},
                                   SIZE_MAX}) {
          tools::list_args a;
          a.statuses = f.statuses;
          a.kind = f.kind;
          a.prefix = f.prefix;
          a.limit = limit;
          a.budget = budget;
          INFO("kind " << f.kind.value_or("-") << " prefix " << f.prefix
                       << " statuses " << f.statuses.size() << " limit "
                       << limit << " budget " << budget << " live "
                       << live);
          CHECK(walk(*log, a, live) == expected(*log, a, live));
        }
}

TEST_CASE("list_page: a full page without a budget, a cursor in the middle") {
  temp_dir dir;
  auto log = open_log(dir.path());
  write_many(*log);
  tools::list_args a;
  a.statuses = {"failed"};
  a.limit = 3;
  a.after = "a/0500";
  auto page = tools::list_page(*log, a, false);
  REQUIRE(page.has_value());
  CHECK(ids(page->items)
        == std::vector<std::string>{"a/0504", "a/0511", "a/0518"});
  REQUIRE(page->next);
  CHECK(*page->next == "a/0518");
  a.statuses = {"lost"};
  CHECK(tools::list_page(*log, a, false).as_status().code()
        == errc::invalid_argument);
}

TEST_CASE("perdure list --prefix --after --limit pages the same way") {
  temp_dir dir;
  {
    auto log = open_log(dir.path());
    write_many(*log);
  }
  auto r = run_perdure({"--storage", dir.path().string(), "list", "--json",
                        "--status", "failed", "--prefix", "b/", "--after",
                        "b/0500", "--limit", "2"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 2);
  CHECK(j[0]["id"] == "b/0504");
  CHECK(j[1]["id"] == "b/0511");
}
