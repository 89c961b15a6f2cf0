// SPDX-License-Identifier: MIT
// machine.cpp - what the figures were measured on.
#include <event2/event.h> // event_get_version
#include <sys/utsname.h>  // uname
#include <unistd.h>       // sysconf
#include <uv.h>           // uv_version_string

#include <fstream> // /proc files
#include <string>  // std::getline

#include <fmt/format.h>

#include "report.hpp"

namespace bench {
namespace {

std::string first_line(const char* path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.starts_with("model name")) {
      const std::size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}

std::string kernel() {
  utsname name{};
  if (::uname(&name) != 0)
    return "unknown";
  return fmt::format("{} {} {}", name.sysname, name.release, name.machine);
}

} // namespace

Machine describe_machine() {
  Machine machine;
  machine.processors = ::sysconf(_SC_NPROCESSORS_ONLN);
  machine.cpu_model = cpu_model();
  machine.kernel = kernel();
  machine.load_average = first_line("/proc/loadavg");
  machine.compiler = "g++ " __VERSION__;
  machine.libevent_version = event_get_version();
  machine.libuv_version = uv_version_string();
  const std::string wmem = first_line("/proc/sys/net/core/wmem_default");
  machine.unix_send_buffer = wmem.empty() ? 0 : std::stoul(wmem);
  machine.tcp_send_buffer = first_line("/proc/sys/net/ipv4/tcp_wmem");
  return machine;
}

void print_machine(std::FILE* out, const Machine& machine, const Settings& settings) {
  fmt::print(out, "qio-bench{}: {} x {}, {}\n", settings.quick ? " --quick" : "",
             machine.processors, machine.cpu_model, machine.kernel);
  fmt::print(out, "  load average at start: {}\n", machine.load_average);
  fmt::print(out, "  {}; libevent {}; libuv {}\n", machine.compiler, machine.libevent_version,
             machine.libuv_version);
  fmt::print(out, "  socket send buffers: AF_UNIX {} B, TCP {} (min default max)\n",
             machine.unix_send_buffer, machine.tcp_send_buffer);
  fmt::print(out,
             "  each figure: median of {} runs of {:.2f} s; backlog {} KiB; content {}checked\n\n",
             settings.repetitions, settings.run_seconds, settings.backlog_bytes / 1024,
             settings.content_checked ? "" : "not ");
}

} // namespace bench
