// SPDX-License-Identifier: MIT
// main.cpp - qio-bench: qio's queued output measured against a hand-written
// contiguous queue, the kernel's limit, one write() per message, libevent
// and libuv; its fan-out tick against a bare send() loop; its datagram
// channels as their queue grows; and xdr_glue against libtirpc's xdrrec.
//
// Exit status: 0 when every run's byte count verified, 1 when one did not
// (or a case failed), 2 for a bad command line. Targets missed are reported,
// never turned into a failure: figures on a shared machine are no test.
#include <unistd.h> // readlink

#include <csignal>     // SIGPIPE
#include <cstdlib>     // std::strtoull, std::strtod
#include <optional>    // the --only case
#include <string>      // arguments
#include <string_view> // arguments

#include <fmt/format.h>

#include "channels.hpp"
#include "datagrams.hpp"
#include "enqueue.hpp"
#include "fanout.hpp"
#include "report.hpp"
#include "throughput.hpp"
#include "xdr.hpp"

namespace {

using namespace bench;

constexpr std::string_view usage = R"(usage: qio-bench [--quick] [--json FILE] [--only CASE] [--datagram-cap SECONDS]

Measures qio's queued output against a hand-written contiguous queue, the
kernel's limit (blocking 64 KiB writes), one write() per message, libevent
(bufferevent, and a raw evbuffer) and libuv (uv_write per message, and a
tick's messages in one write), over an AF_UNIX socketpair and loopback TCP;
the cost of queueing one message; qio_flush with many channels; a fan-out
tick to thousands of peers against a bare send() loop; draining 10,000 to
80,000 queued datagrams; and xdr_glue's record streams against libtirpc's
xdrrec. Prints tables and the verdict on each target. See
docs/performance.md.

  --quick                 a few seconds in all (the test suite's smoke run);
                          figures are not meaningful, but every byte count
                          and byte is checked
  --json FILE             also write every figure to FILE as JSON
  --only CASE             run one case: throughput, enqueue, channels,
                          fanout, datagrams or xdr
  --datagram-cap SECONDS  once draining one count of datagrams takes longer,
                          skip the larger counts (default 2; 0: run them all)
  --help                  print this and exit

Exit status: 0 if every byte count verified, 1 if one did not or a case
failed, 2 for a bad command line.
(--probe SUBJECT COUNT is internal: the enqueue case runs it under callgrind.)
)";

enum class Case { throughput, enqueue, channels, fanout, datagrams, xdr };

struct CommandLine {
  bool quick = false;
  std::string json_path;
  std::optional<Case> only;
  double datagram_cap_seconds = DatagramPlan{}.cap_seconds;
  std::string probe_subject;
  std::size_t probe_count = 0;
  bool help = false;
};

std::optional<Case> case_named(std::string_view name) {
  if (name == "throughput")
    return Case::throughput;
  if (name == "enqueue")
    return Case::enqueue;
  if (name == "channels")
    return Case::channels;
  if (name == "fanout")
    return Case::fanout;
  if (name == "datagrams")
    return Case::datagrams;
  if (name == "xdr")
    return Case::xdr;
  return std::nullopt;
}

// Parses the arguments into `line`; an error message, or empty.
std::string parse(int argc, char** argv, CommandLine& line) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    auto next_value = [&]() -> std::optional<std::string_view> {
      if (i + 1 < argc)
        return argv[++i];
      return std::nullopt;
    };
    if (argument == "--quick") {
      line.quick = true;
    } else if (argument == "--help" || argument == "-h") {
      line.help = true;
    } else if (argument == "--json") {
      const auto path = next_value();
      if (!path || path->empty())
        return "--json needs a file name";
      line.json_path = *path;
    } else if (argument == "--only") {
      const auto name = next_value();
      line.only = name ? case_named(*name) : std::nullopt;
      if (!line.only)
        return fmt::format(
            "--only needs one of throughput, enqueue, channels, fanout, datagrams, xdr{}",
            name ? fmt::format(" (not '{}')", *name) : "");
    } else if (argument == "--datagram-cap") {
      const auto seconds = next_value();
      char* end = nullptr;
      line.datagram_cap_seconds = seconds ? std::strtod(std::string(*seconds).c_str(), &end) : -1;
      if (!seconds || end == nullptr || *end != '\0' || !(line.datagram_cap_seconds >= 0))
        return "--datagram-cap needs a number of seconds, 0 or more";
    } else if (argument == "--probe" && i + 2 < argc) {
      line.probe_subject = argv[++i];
      line.probe_count = std::strtoull(argv[++i], nullptr, 10);
    } else {
      return fmt::format("unknown argument '{}'", argument);
    }
  }
  return {};
}

Settings settings_for(bool quick) {
  Settings settings;
  settings.quick = quick;
  settings.repetitions = quick ? 3 : 5;
  settings.run_seconds = quick ? 0.01 : 0.3;
  settings.backlog_bytes = 1024 * 1024;
  // Checking every byte costs the reader a memcmp per chunk, which would
  // slow the limit row most and flatter everyone's "% of limit": full runs
  // check byte counts, the smoke run checks bytes too.
  settings.content_checked = quick;
  return settings;
}

std::string program_path() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, static_cast<std::size_t>(length)) : std::string();
}

void run_throughput_case(Results& results) {
  const Settings& settings = results.settings;
  ThroughputPlan plan;
  plan.message_sizes = {16, 64, 256, 1024, 4096, 65536};
  plan.run_length = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(settings.run_seconds));
  plan.repetitions = settings.repetitions;
  plan.backlog_bytes = settings.backlog_bytes;
  plan.check_content = settings.content_checked;
  std::optional<Transport> printed;
  results.throughput =
      run_throughput(plan, results.failures, [&](std::span<const ThroughputFigure> block) {
        const bool heading = printed != block.front().transport;
        printed = block.front().transport;
        print_throughput_block(stdout, block, settings, heading);
      });
  print_ratios(stdout, results.throughput);
}

void run_enqueue_case(Results& results) {
  EnqueuePlan plan;
  plan.messages = results.settings.quick ? 100'000 : 1'000'000;
  plan.callgrind_messages = results.settings.quick ? 20'000 : 200'000;
  plan.program_path = program_path();
  results.enqueue = run_enqueue(plan, results.failures);
  print_enqueue(stdout, results.enqueue);
}

void run_channels_case(Results& results) {
  ChannelsPlan plan;
  if (results.settings.quick) {
    plan.batches = 5;
    plan.flushes_per_batch = 200;
  }
  results.channels = run_channels(plan);
  if (!results.channels->error.empty())
    results.failures.push_back("channels: " + results.channels->error);
  print_channels(stdout, *results.channels);
}

void run_fanout_case(Results& results) {
  FanoutPlan plan;
  if (results.settings.quick)
    plan.ticks = 5;
  results.fanout = run_fanout(plan, results.failures);
  print_fanout(stdout, results.fanout);
}

void run_datagrams_case(Results& results, double cap_seconds) {
  DatagramPlan plan;
  plan.cap_seconds = cap_seconds;
  if (results.settings.quick) {
    plan.counts = {1'000, 2'000, 4'000};
    plan.repetitions = 1;
  }
  results.datagrams = run_datagrams(plan, results.failures);
  print_datagrams(stdout, *results.datagrams);
}

void run_xdr_case(Results& results) {
  const Settings& settings = results.settings;
  XdrPlan plan;
  plan.run_length = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(settings.run_seconds));
  plan.repetitions = settings.repetitions;
  plan.backlog_bytes = settings.backlog_bytes;
  plan.check_content = settings.content_checked;
  results.xdr = run_xdr(plan, results.failures);
  print_xdr(stdout, *results.xdr);
}

int run(const CommandLine& line) {
  Results results;
  results.settings = settings_for(line.quick);
  results.machine = describe_machine();
  print_machine(stdout, results.machine, results.settings);
  auto wanted = [&](Case which) { return !line.only || *line.only == which; };
  if (wanted(Case::throughput))
    run_throughput_case(results);
  if (wanted(Case::enqueue))
    run_enqueue_case(results);
  if (wanted(Case::channels))
    run_channels_case(results);
  if (wanted(Case::fanout))
    run_fanout_case(results);
  if (wanted(Case::datagrams))
    run_datagrams_case(results, line.datagram_cap_seconds);
  if (wanted(Case::xdr))
    run_xdr_case(results);
  const std::vector<TargetCheck> checks = check_targets(results);
  print_targets(stdout, checks);
  print_failures(stdout, results.failures);
  if (!line.json_path.empty() && !write_json(line.json_path, results, checks)) {
    fmt::print(stderr, "qio-bench: cannot write {}\n", line.json_path);
    return 1;
  }
  return results.failures.empty() ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  CommandLine line;
  if (const std::string error = parse(argc, argv, line); !error.empty()) {
    fmt::print(stderr, "qio-bench: {}\nTry 'qio-bench --help'.\n", error);
    return 2;
  }
  if (line.help) {
    fmt::print("{}", usage);
    return 0;
  }
  // Every library here may write to a reader that has gone; that must be
  // an error to report, not a signal that ends the run.
  std::signal(SIGPIPE, SIG_IGN);
  if (!line.probe_subject.empty())
    return run_enqueue_probe(line.probe_subject, line.probe_count);
  raise_descriptor_limit();
  return run(line);
}
