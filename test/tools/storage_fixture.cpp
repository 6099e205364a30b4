// SPDX-License-Identifier: Apache-2.0
#include "storage_fixture.hpp"

#include "perdure/eventlog/records/workflow.hpp"

#include <stdexcept>

namespace perdure::test {

namespace {

namespace rec = perdure::records;
using eventlog::record_kind;
using eventlog::to_u16;

codec::bytes value(int x) {
  return codec::bytes{codec::encode(x)};
}

rec::node_rec node(std::uint32_t index, std::string id, int max_attempts = 3) {
  rec::node_rec n;
  n.index = index;
  n.id = id;
  n.name = id;
  n.step = id;
  n.signature = "i32()";
  n.sig_hash = "0000";
  n.max_attempts = max_attempts;
  return n;
}

rec::arg_rec value_arg(int x) {
  rec::arg_rec a;
  a.kind = 0;
  a.value = value(x);
  return a;
}

rec::arg_rec node_arg(std::uint32_t n) {
  rec::arg_rec a;
  a.kind = 1;
  a.node = n;
  return a;
}

// Commits one batch that appends `kind` with `payload` to `id`.
template <class T>
void put(eventlog::event_log& log, const std::string& id, record_kind kind,
         const T& payload, const char* status = nullptr,
         bool create_workflow = false) {
  eventlog::write_batch b;
  if (create_workflow)
    b.create(id, eventlog::stream_kind::workflow);
  b.append(id, to_u16(kind), codec::encode(payload));
  if (status)
    b.set_status(id, status);
  auto r = log.commit(std::move(b));
  if (!r)
    throw std::runtime_error("fixture commit failed: " + r.error().message());
}

void started(eventlog::event_log& log, const std::string& id,
             std::uint32_t n, const std::string& sid, int attempt = 1) {
  put(log, id, record_kind::step_started, rec::step_started{n, sid, attempt});
}

void succeeded(eventlog::event_log& log, const std::string& id,
               std::uint32_t n, const std::string& sid, int out) {
  rec::step_succeeded s;
  s.node = n;
  s.id = sid;
  s.output = value(out);
  put(log, id, record_kind::step_succeeded, s);
}

} // namespace

std::unique_ptr<eventlog::event_log> open_log(const std::filesystem::path& dir) {
  eventlog::options o;
  o.dir = dir;
  o.mode = eventlog::durability::process;
  o.writer_id = "test-engine";
  auto log = eventlog::event_log::open(o);
  if (!log)
    throw std::runtime_error("open failed: " + log.error().message());
  return std::move(*log);
}

void write_fixture(eventlog::event_log& log) {
  { // sum_example
    rec::workflow_submitted w;
    w.metadata = {{"owner", "billing"}};
    w.root = 2;
    w.nodes = {node(0, "get_value1"), node(1, "get_value2"), node(2, "sum")};
    w.nodes[1].args = {value_arg(10)};
    w.nodes[2].args = {node_arg(0), node_arg(1), value_arg(100)};
    put(log, "sum_example", record_kind::workflow_submitted, w, "running", true);
    started(log, "sum_example", 0, "get_value1");
    started(log, "sum_example", 1, "get_value2");
    succeeded(log, "sum_example", 0, "get_value1", 100);
    succeeded(log, "sum_example", 1, "get_value2", 100);
    started(log, "sum_example", 2, "sum");
    succeeded(log, "sum_example", 2, "sum", 300);
    put(log, "sum_example", record_kind::workflow_succeeded,
        rec::workflow_ended{}, "successful");
  }
  { // flaky
    rec::workflow_submitted w;
    w.nodes = {node(0, "flaky", 2)};
    put(log, "flaky", record_kind::workflow_submitted, w, "running", true);
    started(log, "flaky", 0, "flaky", 1);
    put(log, "flaky", record_kind::step_failed,
        rec::step_failed{0, "flaky", 1, "std::runtime_error", "boom", false});
    started(log, "flaky", 0, "flaky", 2);
    put(log, "flaky", record_kind::step_failed,
        rec::step_failed{0, "flaky", 2, "std::runtime_error", "boom", true});
    put(log, "flaky", record_kind::workflow_failed,
        rec::workflow_ended{"flaky", "std::runtime_error", "boom", {}}, "failed");
  }
  { // pending_job
    rec::workflow_submitted w;
    w.nodes = {node(0, "slow")};
    put(log, "pending_job", record_kind::workflow_submitted, w, "running",
        true);
    started(log, "pending_job", 0, "slow");
  }
  { // dyn
    rec::workflow_submitted w;
    w.nodes = {node(0, "outer")};
    put(log, "dyn", record_kind::workflow_submitted, w, "running", true);
    started(log, "dyn", 0, "outer");
    rec::step_continued c;
    c.node = 0;
    c.id = "outer";
    c.root = 2;
    c.nodes = {node(1, "inner_a"), node(2, "inner_b")};
    c.nodes[1].args = {node_arg(1)};
    put(log, "dyn", record_kind::step_continued, c);
    started(log, "dyn", 1, "inner_a");
    succeeded(log, "dyn", 1, "inner_a", 20);
    started(log, "dyn", 2, "inner_b");
    succeeded(log, "dyn", 2, "inner_b", 42);
    succeeded(log, "dyn", 0, "outer", 42);
    put(log, "dyn", record_kind::workflow_succeeded, rec::workflow_ended{},
        "successful");
  }
  { // counter_1: an actor stream with plain maps as payloads
    eventlog::write_batch b;
    b.create("counter_1", eventlog::stream_kind::actor);
    b.append("counter_1", to_u16(record_kind::actor_created),
             codec::encode(std::map<std::string, int>{{"count", 0}}));
    b.append("counter_1", to_u16(record_kind::actor_called),
             codec::encode(std::map<std::string, std::string>{
               {"method", "incr"}, {"args", "[10]"}}));
    b.append("counter_1", to_u16(record_kind::actor_called),
             codec::encode(std::map<std::string, std::string>{
               {"method", "incr"}, {"args", "[5]"}}));
    b.set_status("counter_1", "active");
    if (!log.commit(std::move(b)))
      throw std::runtime_error("fixture actor commit failed");
  }
}

void finish_pending_step(eventlog::event_log& log) {
  succeeded(log, "pending_job", 0, "slow", 7);
}

void end_pending_job(eventlog::event_log& log) {
  put(log, "pending_job", record_kind::workflow_succeeded,
      rec::workflow_ended{}, "successful");
}

} // namespace perdure::test
