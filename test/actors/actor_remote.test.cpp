// SPDX-License-Identifier: Apache-2.0
// Actors that live elsewhere (engine_options::remote): an actor_ref of one
// sends its calls through remote_workflows::call_actor, with the key
// derived from the calling method or step, in the order they were made;
// errors come back as the call's. A fake remote in the test process keeps
// the far actors' counts (test/cluster/cluster_actor_remote.test.cpp has
// the real one, two hosts on the mock Kafka).

#include "perdure/runtime/remote_workflows.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <map>
#include <mutex>
#include <perdure/perdure.hpp>
#include <string>
#include <tuple>
#include <vector>

using namespace perdure;

namespace {

struct rm_counter {
  int n = 0;
  int add(int by) {
    return n += by;
  }
  int get() const {
    return n;
  }
};
PERDURE_ACTOR(rm_counter, (n), (add, get))

struct rm_caller {
  int pokes = 0;
  /// add(by) on counter `target`, wherever it lives.
  int poke(std::string target, int by) {
    ++pokes;
    return this_step::engine().get_actor<rm_counter>(target).call(
        &rm_counter::add, by);
  }
  int count() const {
    return pokes;
  }
};
PERDURE_ACTOR(rm_caller, (pokes), (poke, count))

const auto rm_step = step("rm_step", [](std::string target) {
  return this_step::engine().get_actor<rm_counter>(target).call(
      &rm_counter::add, 10);
});

bool far(std::string_view id) {
  return !id.empty() && id.front() == 'r';
}

// Ids starting with 'r' live elsewhere: their counts are kept here, each
// key applied once; add(by < 0) fails as a method that threw.
class fake_far_actors final : public remote_workflows {
 public:
  struct call {
    std::string id, cls, method, key;
  };

  bool elsewhere(std::string_view id) const override {
    return far(id);
  }
  result<std::string> call_actor(const std::string& id, const std::string& cls,
                                 const std::string& method,
                                 const std::string& key, std::string args,
                                 const actor_call_path&) override {
    std::lock_guard guard{mu_};
    calls_.push_back({id, cls, method, key});
    if (method == "get")
      return codec::encode(counts_[id]);
    if (auto k = answered_.find(key); !key.empty() && k != answered_.end())
      return k->second;
    auto by = codec::decode<std::tuple<int>>(args);
    if (!by)
      return by.error();
    if (std::get<0>(*by) < 0)
      return unexpected{errc::failed, "actor '" + id + "': no negatives"};
    auto r = codec::encode(counts_[id] += std::get<0>(*by));
    answered_[key] = r;
    return r;
  }
  std::vector<call> calls() const {
    std::lock_guard guard{mu_};
    return calls_;
  }

  perdure::status start_child(const std::string&, const std::string&,
                              const std::string&, const std::string&) override {
    return {errc::invalid_argument, "no children here"};
  }
  result<workflow_status> status(const std::string&) override {
    return unexpected{errc::not_found, "none"};
  }
  result<std::string> output_bytes(const std::string&) override {
    return unexpected{errc::not_found, "none"};
  }
  result<std::string> failure(const std::string&) override {
    return unexpected{errc::not_found, "none"};
  }
  perdure::status cancel(const std::string&) override {
    return {errc::not_found, "none"};
  }
  perdure::status resume(const std::string&) override {
    return {errc::not_found, "none"};
  }

 private:
  mutable std::mutex mu_;
  std::vector<call> calls_;
  std::map<std::string, int> counts_;
  std::map<std::string, std::string> answered_;
};

struct far_engine {
  test::temp_dir dir;
  std::shared_ptr<fake_far_actors> remote = std::make_shared<fake_far_actors>();
  std::unique_ptr<engine> eng;

  far_engine() {
    engine_options o;
    o.storage = dir.path();
    o.remote = remote;
    o.accept_id = [](std::string_view id) -> perdure::status {
      if (far(id))
        return {errc::conflict, "'" + std::string{id} + "' lives elsewhere"};
      return {};
    };
    eng = std::make_unique<engine>(std::move(o));
  }
};

} // namespace

TEST_CASE("a method's call to an actor that lives elsewhere carries the key "
          "derived from the method's and runs once per key") {
  far_engine f;
  auto caller = f.eng->actor<rm_caller>("c-1").with({"k1"});
  CHECK(caller.call(&rm_caller::poke, std::string{"r-1"}, 2) == 2);
  CHECK(caller.call(&rm_caller::poke, std::string{"r-1"}, 2) == 2); // logged
  auto calls = f.remote->calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].id == "r-1");
  CHECK(calls[0].cls == "rm_counter");
  CHECK(calls[0].method == "add");
  CHECK(calls[0].key == "c-1/k1/#0");
  // The far actor's error fails the calling method, which keeps nothing.
  auto failed = f.eng->get_actor<rm_caller>("c-1").try_call(
      &rm_caller::poke, std::string{"r-1"}, -1);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code() == errc::failed);
  CHECK(failed.error().message().find("no negatives") != std::string::npos);
  CHECK(f.eng->get_actor<rm_caller>("c-1").call(&rm_caller::count) == 1);

  // From a step body: the key is the workflow's and step's.
  CHECK(f.eng->run(rm_step(std::string{"r-2"}), "wf-1") == 10);
  calls = f.remote->calls();
  REQUIRE(calls.size() == 3);
  CHECK(calls[2].key.starts_with("wf-1/"));
  CHECK(calls[2].key.ends_with("/#0"));
}

TEST_CASE("an actor_ref of an actor that lives elsewhere reads there, sends "
          "its calls in order and refuses constructor arguments") {
  far_engine f;
  auto ref = f.eng->get_actor<rm_counter>("r-9"); // not looked up here
  CHECK(ref.call(&rm_counter::get) == 0);
  std::vector<call_handle<int>> adds;
  for (int i = 0; i < 20; ++i)
    adds.push_back(ref.call_async(&rm_counter::add, 1));
  for (int i = 0; i < 20; ++i)
    CHECK(adds[static_cast<std::size_t>(i)].get() == i + 1);
  CHECK(ref.call_async(&rm_counter::get).get() == 20);
  auto calls = f.remote->calls();
  REQUIRE(calls.size() == 22);
  CHECK(calls[0].key.empty()); // readonly
  CHECK(calls[21].key.empty());
  auto made = f.eng->try_actor<rm_counter>("r-10", rm_counter{5});
  REQUIRE_FALSE(made);
  CHECK(made.error().code() == errc::invalid_argument);
  CHECK(made.error().message().find("lives in another partition") !=
        std::string::npos);
  CHECK(f.eng->try_actor<rm_counter>("r-10")); // created there by its calls
  CHECK(active_actors(*f.eng) == 0);           // nothing activated here
}
