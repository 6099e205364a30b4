// The perdure demo: appends the events of an order to its stream on the
// default storage, reads them back and prints them with the stream's status.
// It becomes a workflow demo once the runtime lands.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace perdure::eventlog;

int main() {
  const char* env = std::getenv("PERDURE_STORAGE");
  options opts;
  opts.dir = env ? env : "/tmp/perdure/workflow_data";
  opts.writer_id = "perdure-demo";
  auto opened = event_log::open(opts);
  if (!opened) {
    std::fprintf(stderr, "perdure-demo: %s\n", opened.error().to_string().c_str());
    return 1;
  }
  auto& log = **opened;
  const std::string stream = "demo-order-" + std::to_string(now_ns() / 1000000);
  write_batch b;
  b.create(stream, stream_kind::other)
    .append(stream, 0, "order placed: 2 x book")
    .append(stream, 0, "payment captured: 42.00 EUR")
    .append(stream, 0, "shipped")
    .set_status(stream, "successful");
  auto r = log.commit(std::move(b));
  if (!r) {
    std::fprintf(stderr, "perdure-demo: %s\n", r.error().to_string().c_str());
    return 1;
  }
  auto recs = log.read(stream);
  auto info = log.info(stream);
  if (!recs || !info) {
    std::fprintf(stderr, "perdure-demo: read back failed\n");
    return 1;
  }
  std::printf("storage: %s\nstream:  %s (status %s)\n", opts.dir.c_str(),
              stream.c_str(), info->status.c_str());
  for (auto& rec : *recs)
    std::printf("  seq %llu  %s\n", static_cast<unsigned long long>(rec.seq),
                rec.payload.c_str());
  std::printf("streams with status 'successful': %zu\n",
              log.list_by_status("successful")->size());
  return 0;
}
