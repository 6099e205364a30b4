// SPDX-License-Identifier: Apache-2.0
// graph: a workflow's graph as Graphviz dot, SVG (through `dot`) or JSON.

#include "commands.hpp"
#include "format.hpp"
#include "payload_json.hpp"
#include "workflow_view.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace perdure::tools {

namespace {

std::string dot_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

const char* fill_of(std::string_view status) {
  if (status == "succeeded")
    return "#c8e6c9";
  if (status == "failed")
    return "#ffcdd2";
  if (status == "running" || status == "retrying")
    return "#bbdefb";
  if (status == "continued")
    return "#fff9c4";
  if (status == "canceled")
    return "#e0e0e0";
  return "#ffffff";
}

// The label, escaped for a dot string; "\n" separates its lines.
std::string step_label(const step_view& s) {
  auto label = dot_escape(s.id);
  if (s.step != s.id && !s.step.empty())
    label += fmt::format(" ({})", dot_escape(s.step));
  label += "\\n" + s.status;
  if (s.start && s.end)
    label += " · " + human_duration(s.end - s.start);
  if (s.attempts > 1)
    label += fmt::format(" · {} attempts", s.attempts);
  return label;
}

void emit_nodes(std::ostream& out, const workflow_view& v, std::int32_t owner,
                int depth) {
  std::string indent(static_cast<std::size_t>(depth) * 2 + 2, ' ');
  for (auto& s : v.steps) {
    if (s.owner != owner || s.id.empty())
      continue;
    out << indent << fmt::format("n{} [label=\"{}\", fillcolor=\"{}\"{}];\n",
                                 s.index, step_label(s),
                                 fill_of(s.status),
                                 s.index == v.root ? ", penwidth=2" : "");
    if (s.continued_to >= 0) {
      out << indent << "subgraph cluster_" << s.index << " {\n"
          << indent << "  label=\"" << dot_escape(s.id)
          << " continued as\"; style=dashed; color=\"#9e9e9e\";\n";
      emit_nodes(out, v, static_cast<std::int32_t>(s.index), depth + 1);
      out << indent << "}\n";
    }
  }
}

std::string to_dot(const workflow_view& v, const std::string& id) {
  std::ostringstream out;
  out << "digraph \"" << dot_escape(id) << "\" {\n"
      << "  label=\"" << dot_escape(id) << " (" << v.status << ")\";\n"
      << "  labelloc=t; rankdir=LR;\n"
      << "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n";
  emit_nodes(out, v, -1, 0);
  for (auto& s : v.steps) {
    if (s.id.empty())
      continue;
    for (auto in : s.inputs)
      out << fmt::format("  n{} -> n{};\n", in, s.index);
    if (s.continued_to >= 0)
      out << fmt::format("  n{} -> n{} [style=dashed, label=\"result\"];\n",
                         s.continued_to, s.index);
  }
  out << "}\n";
  return out.str();
}

json to_json_graph(const workflow_view& v, const std::string& id) {
  auto nodes = json::array();
  auto edges = json::array();
  for (auto& s : v.steps) {
    if (s.id.empty())
      continue;
    nodes.push_back({{"index", s.index},
                     {"id", s.id},
                     {"step", s.step},
                     {"status", s.status},
                     {"attempts", s.attempts},
                     {"duration_ns", s.start && s.end ? json(s.end - s.start)
                                                      : json(nullptr)},
                     {"owner", s.owner >= 0 ? json(s.owner) : json(nullptr)}});
    for (auto in : s.inputs)
      edges.push_back({{"from", in}, {"to", s.index}, {"type", "data"}});
    if (s.continued_to >= 0)
      edges.push_back(
        {{"from", s.continued_to}, {"to", s.index}, {"type", "result"}});
  }
  return {{"id", id}, {"status", v.status}, {"root", v.root},
          {"nodes", std::move(nodes)}, {"edges", std::move(edges)}};
}

// Runs `dot -Tsvg` on `dot_text`; `svg` receives its output. Returns an
// error message, empty on success.
std::string run_dot(const std::string& dot_text, std::string& svg) {
  char in_path[] = "/tmp/perdure-graph-XXXXXX";
  int in_fd = ::mkstemp(in_path);
  if (in_fd < 0)
    return fmt::format("mkstemp: {}", std::strerror(errno));
  bool wrote = ::write(in_fd, dot_text.data(), dot_text.size())
               == static_cast<ssize_t>(dot_text.size());
  ::close(in_fd);
  if (!wrote) {
    ::unlink(in_path);
    return "cannot write the dot input file";
  }
  int pipe_fd[2];
  if (::pipe2(pipe_fd, O_CLOEXEC) != 0) {
    ::unlink(in_path);
    return fmt::format("pipe: {}", std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fd[1], STDOUT_FILENO);
  const char* argv[] = {"dot", "-Tsvg", in_path, nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, "dot", &actions, nullptr,
                          const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fd[1]);
  if (rc != 0) {
    ::close(pipe_fd[0]);
    ::unlink(in_path);
    return rc == ENOENT ? "graphviz's 'dot' is not on PATH (install graphviz, "
                          "or use --format dot)"
                        : fmt::format("cannot run dot: {}", std::strerror(rc));
  }
  char buf[65536];
  for (;;) {
    auto n = ::read(pipe_fd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    svg.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fd[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  ::unlink(in_path);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
    return "dot -Tsvg failed (see its message above)";
  return {};
}

} // namespace

int cmd_graph(const context& ctx, const graph_args& a) {
  int code = 0;
  auto s = open_stream(ctx, a.id, code,
                       {.kind = eventlog::stream_kind::workflow,
                        .command = "graph"});
  if (!s)
    return code;
  auto& log = s->log;
  workflow_builder b;
  auto st = log->scan(a.id, 1, [&](const eventlog::record_view& r) {
    b.apply(r.seq, r.kind, r.time, r.payload);
    return true;
  });
  if (!st)
    return fail(ctx, st);
  std::string text;
  if (ctx.json) {
    text = dump_pretty(to_json_graph(b.view(), a.id)) + "\n";
  } else {
    text = to_dot(b.view(), a.id);
    if (a.format == "svg") {
      std::string svg;
      if (auto err = run_dot(text, svg); !err.empty())
        return fail(ctx, exit_code::failed, err);
      text = std::move(svg);
    }
  }
  if (a.output_file) {
    std::ofstream file{*a.output_file, std::ios::binary};
    file << text;
    if (!file.flush())
      return fail(ctx, exit_code::storage,
                  fmt::format("cannot write {}", *a.output_file));
    return 0;
  }
  ctx.out() << text;
  return 0;
}

} // namespace perdure::tools
