// SPDX-License-Identifier: Apache-2.0
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "child_process.hpp"

#include <cstdio>
#include <string_view>

namespace {

// How many test cases the run's filters selected. CTest runs one test case
// per process by name: a name CTest cannot carry (it splits names at ';')
// selects none, and without this check that test would pass unrun.
unsigned selected_cases = 0;

struct selection_counter : doctest::IReporter {
  explicit selection_counter(const doctest::ContextOptions&) {
  }
  void report_query(const doctest::QueryData&) override {
  }
  void test_run_start() override {
  }
  void test_run_end(const doctest::TestRunStats& stats) override {
    selected_cases = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {
  }
  void test_case_reenter(const doctest::TestCaseData&) override {
  }
  void test_case_end(const doctest::CurrentTestCaseStats&) override {
  }
  void test_case_exception(const doctest::TestCaseException&) override {
  }
  void subcase_start(const doctest::SubcaseSignature&) override {
  }
  void subcase_end() override {
  }
  void log_assert(const doctest::AssertData&) override {
  }
  void log_message(const doctest::MessageData&) override {
  }
  void test_case_skipped(const doctest::TestCaseData&) override {
  }
};

REGISTER_LISTENER("selection_counter", 1, selection_counter);

bool names_a_test_case(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a{argv[i]};
    if (a.starts_with("--test-case=") || a.starts_with("-tc="))
      return true;
  }
  return false;
}

} // namespace

// A test binary doubles as the child process of its crash tests: when its
// first argument is "--child", it runs the registered child entry instead of
// the tests (see child_process.hpp). A run asked for test cases by name
// that selected none fails: a test that never runs must not count as passed.
int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view{argv[1]} == "--child")
    return perdure::test::run_child(argc - 2, argv + 2);
  doctest::Context ctx{argc, argv};
  int rc = ctx.run();
  if (rc == 0 && !ctx.shouldExit() && names_a_test_case(argc, argv)
      && selected_cases == 0) {
    std::fprintf(stderr, "no test case matches the name given (a ';' in a "
                         "test case's name splits it in CTest)\n");
    return 1;
  }
  return rc;
}
