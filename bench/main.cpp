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

#include <charconv>    // std::from_chars, --probe's COUNT
#include <csignal>     // SIGPIPE
#include <optional>    // the --only case
#include <string>      // arguments
#include <string_view> // arguments

#include <fmt/format.h>

#include "channels.hpp"
#include "datagrams.hpp"
#include "enqueue.hpp"
#include "fanout.hpp"
#include "report.hpp"
#include "support/command_line.hpp"
#include "throughput.hpp"
#include "xdr.hpp"

namespace {

using namespace bench;

const support::Usage usage{
    "qio-bench",
    "[--quick] [--json FILE] [--only CASE] [--datagram-cap SECONDS]",
    "Measures qio's queued output against a hand-written contiguous queue, the\n"
    "kernel's limit (blocking 64 KiB writes), one write() per message, libevent\n"
    "(bufferevent, and a raw evbuffer) and libuv (uv_write per message, and a\n"
    "tick's messages in one write), over an AF_UNIX socketpair and loopback TCP;\n"
    "the cost of queueing one message; qio_flush with many channels; a fan-out\n"
    "tick to thousands of peers against a bare send() loop; draining 10,000 to\n"
    "80,000 queued datagrams; and xdr_glue's record streams against libtirpc's\n"
    "xdrrec. Prints tables and the verdict on each target. See\n"
    "docs/performance.md.\n"
    "\n"
    "Exit status: 0 if every byte count verified, 1 if one did not or a case\n"
    "failed, 2 for a bad command line.",
    {
        {"quick", "",
         "a few seconds in all (the test suite's smoke run);\n"
         "figures are not meaningful, but every byte count\n"
         "and byte is checked (default: the full run)"},
        {"json", "FILE", "also write every figure to FILE as JSON (default: none)"},
        {"only", "CASE",
         "run one case: throughput, enqueue, channels,\n"
         "fanout, datagrams or xdr (default: all of them)"},
        {"datagram-cap", "SECONDS",
         "once draining one count of datagrams takes longer,\n"
         "skip the larger counts (0: run them all; default: 2)"},
        {"probe", "SUBJECT",
         "internal, with a COUNT after it: the enqueue case\n"
         "runs `--probe SUBJECT COUNT` under callgrind"},
    },
    1}; // --probe's COUNT

enum class Case { throughput, enqueue, channels, fanout, datagrams, xdr };

struct Options {
  bool quick = false;
  std::string json_path;
  std::optional<Case> only;
  double datagram_cap_seconds = DatagramPlan{}.cap_seconds;
  std::string probe_subject;
  std::size_t probe_count = 0;
};

Case case_named(std::string_view name) {
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
  return Case::xdr;
}

Options read_options(int argc, char** argv) {
  const support::CommandLine line(usage, argc, argv);
  Options options;
  options.quick = line.given("quick");
  options.json_path = line.text("json", "");
  if (line.given("json") && options.json_path.empty())
    line.reject("--json needs a file name");
  if (line.given("only"))
    options.only = case_named(line.choice(
        "only", "", {"throughput", "enqueue", "channels", "fanout", "datagrams", "xdr"}));
  options.datagram_cap_seconds =
      line.seconds("datagram-cap", options.datagram_cap_seconds, 0, 86400);
  options.probe_subject = line.text("probe", "");
  if (line.given("probe") != !line.operands().empty())
    line.reject(line.given("probe") ? "--probe needs SUBJECT COUNT"
                                    : fmt::format("unexpected argument '{}'", line.operands()[0]));
  if (line.given("probe")) {
    const std::string_view count = line.operands()[0];
    const auto [end, error] =
        std::from_chars(count.data(), count.data() + count.size(), options.probe_count);
    if (error != std::errc() || end != count.data() + count.size())
      line.reject(fmt::format("--probe wants a number of messages after SUBJECT, not '{}'", count));
  }
  return options;
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

int run(const Options& options) {
  Results results;
  results.settings = settings_for(options.quick);
  results.machine = describe_machine();
  print_machine(stdout, results.machine, results.settings);
  auto wanted = [&](Case which) { return !options.only || *options.only == which; };
  if (wanted(Case::throughput))
    run_throughput_case(results);
  if (wanted(Case::enqueue))
    run_enqueue_case(results);
  if (wanted(Case::channels))
    run_channels_case(results);
  if (wanted(Case::fanout))
    run_fanout_case(results);
  if (wanted(Case::datagrams))
    run_datagrams_case(results, options.datagram_cap_seconds);
  if (wanted(Case::xdr))
    run_xdr_case(results);
  const std::vector<TargetCheck> checks = check_targets(results);
  print_targets(stdout, checks);
  print_failures(stdout, results.failures);
  if (!options.json_path.empty() && !write_json(options.json_path, results, checks)) {
    fmt::print(stderr, "qio-bench: cannot write {}\n", options.json_path);
    return 1;
  }
  return results.failures.empty() ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  const Options options = read_options(argc, argv);
  // Every library here may write to a reader that has gone; that must be
  // an error to report, not a signal that ends the run.
  std::signal(SIGPIPE, SIG_IGN);
  if (!options.probe_subject.empty())
    return run_enqueue_probe(options.probe_subject, options.probe_count);
  raise_descriptor_limit();
  return run(options);
}
