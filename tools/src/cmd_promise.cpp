// SPDX-License-Identifier: Apache-2.0
// promise complete ID JSON / promise reject ID MESSAGE: settles a durable
// promise of a workflow once, beside a running engine or without one
// (records::settle_promise, as engine::complete / reject: refused for
// unknown, finished and canceled workflows and for a settled promise).

#include "commands.hpp"
#include "payload_json.hpp"

#include "perdure/eventlog/records/promise.hpp"

#include <fmt/format.h>

namespace perdure::tools {

namespace rec = perdure::records;

int cmd_promise(const context& ctx, const promise_args& a) {
  auto addr = rec::parse_promise_id(a.id);
  if (!addr.error.empty())
    return fail(ctx, exit_code::usage, addr.error);
  rec::promise_settled s;
  s.workflow = addr.workflow;
  s.name = addr.name;
  s.ok = a.complete;
  s.sender = "cli";
  if (a.complete) {
    std::string why;
    auto value = value_of_json(a.text, why);
    if (!value)
      return fail(ctx, exit_code::usage, why);
    s.value.data = std::move(*value);
  } else {
    s.error = a.text;
  }
  int code = 0;
  auto o = open_stream(ctx, s.workflow, code,
                       {.write = true,
                        .kind = eventlog::stream_kind::workflow,
                        .command = "promise"});
  if (!o)
    return code;
  auto seq = rec::settle_promise(*o->log, s);
  if (!seq) {
    // Refusals (finished, canceled, settled already) are not I/O errors.
    auto c = seq.error().code();
    if (c == errc::conflict || c == errc::canceled)
      return fail(ctx, exit_code::refused, seq.error().message());
    return fail(ctx, seq.error());
  }
  auto stream = rec::signal_stream(s.workflow);
  auto verb = a.complete ? "completed" : "rejected";
  if (ctx.json)
    ctx.out() << dump_pretty(json{{"promise", a.id},
                                  {"workflow", s.workflow},
                                  {"settled", verb},
                                  {"stream", stream},
                                  {"seq", *seq}})
              << '\n';
  else
    ctx.out() << verb << " promise '" << a.id << "' (" << stream << " seq "
              << *seq << ")\n";
  return 0;
}

} // namespace perdure::tools
