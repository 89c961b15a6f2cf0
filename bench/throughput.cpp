// SPDX-License-Identifier: MIT
// throughput.cpp - timed runs of every writer and their medians.
#include "throughput.hpp"

#include <array> // samples per writer

#include <fmt/format.h>

#include "syscall_count.hpp"
#include "timed_run.hpp"
#include "timing.hpp"

namespace bench {
namespace {

struct RunSample {
  double seconds = 0;
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  SyscallTally syscalls;
  CpuTime writer_cpu; // the writer thread's own user and system time
};

std::string describe(Transport transport, std::size_t size, Implementation implementation) {
  return fmt::format("{}, {} B, {}", transport_name(transport), size,
                     implementation_name(implementation));
}

// Compares what was written with what was read; an empty string if they agree.
std::string verify(const WriterResult& written, const ReaderResult& read) {
  if (!written.error.empty())
    return written.error;
  if (!read.error.empty())
    return "reader: " + read.error;
  if (written.bytes != read.bytes)
    return fmt::format("byte count mismatch: {} written, {} read", written.bytes, read.bytes);
  if (written.bytes == 0)
    return "nothing was written";
  return {};
}

// One run from connecting to the reader's end of file; false on failure.
bool run_once(Transport transport, std::size_t size, Implementation implementation,
              const ThroughputPlan& plan, RunSample& sample, std::string& failure) {
  const auto run = timed_run<Reader>(
      transport, plan.run_length, plan.check_content,
      [&](int fd, Clock::time_point deadline) {
        Workload workload;
        workload.message_size = size;
        workload.backlog_bytes = plan.backlog_bytes;
        workload.deadline = deadline;
        return run_writer(implementation, fd, workload);
      });
  if (!run.connect_error.empty()) {
    failure = run.connect_error;
    return false;
  }
  sample.writer_cpu = run.writer_cpu;
  sample.syscalls = run.syscalls;
  sample.seconds = run.seconds;
  sample.bytes = run.written.bytes;
  sample.messages = run.written.messages;
  failure = verify(run.written, run.read);
  return failure.empty();
}

// `samples` has one entry per round; a failed run's has no bytes.
ThroughputFigure summarize(Transport transport, std::size_t size, Implementation implementation,
                           const std::vector<RunSample>& samples) {
  ThroughputFigure figure;
  std::vector<double> rates;
  std::vector<double> writes;
  std::vector<double> would_block;
  std::vector<double> user_ns;
  std::vector<double> system_ns;
  for (const RunSample& sample : samples) {
    const double mib = static_cast<double>(sample.bytes) / mebibyte;
    figure.round_rates.push_back(sample.bytes ? mib / sample.seconds : 0);
    if (sample.bytes == 0)
      continue;
    rates.push_back(mib / sample.seconds);
    writes.push_back(static_cast<double>(sample.syscalls.writes) / mib);
    would_block.push_back(static_cast<double>(sample.syscalls.would_block) / mib);
    const double messages = static_cast<double>(sample.messages);
    user_ns.push_back(sample.writer_cpu.user_seconds * 1e9 / messages);
    system_ns.push_back(sample.writer_cpu.system_seconds * 1e9 / messages);
  }
  figure.transport = transport;
  figure.message_size = size;
  figure.implementation = implementation;
  figure.runs = static_cast<int>(rates.size());
  figure.mib_per_second = median(rates);
  figure.messages_per_second = figure.mib_per_second * mebibyte / static_cast<double>(size);
  figure.writes_per_mib = median(writes);
  figure.would_block_per_mib = median(would_block);
  figure.writer_user_ns_per_message = median(user_ns);
  figure.writer_system_ns_per_message = median(system_ns);
  return figure;
}

// All repetitions of all writers for one transport and size. Each round
// runs every writer once, starting one further along each time, so no
// writer always follows the same one.
std::vector<ThroughputFigure> run_block(Transport transport, std::size_t size,
                                        const ThroughputPlan& plan,
                                        std::vector<std::string>& failures) {
  constexpr std::size_t writers = all_implementations.size();
  std::array<std::vector<RunSample>, writers> samples;
  for (int round = 0; round < plan.repetitions; ++round)
    for (std::size_t turn = 0; turn < writers; ++turn) {
      const std::size_t i = (turn + static_cast<std::size_t>(round)) % writers;
      RunSample sample;
      std::string failure;
      if (!run_once(transport, size, all_implementations[i], plan, sample, failure)) {
        failures.push_back(describe(transport, size, all_implementations[i]) + ": " + failure);
        sample = {};
      }
      samples[i].push_back(sample);
    }
  std::vector<ThroughputFigure> block;
  for (std::size_t i = 0; i < writers; ++i)
    block.push_back(summarize(transport, size, all_implementations[i], samples[i]));
  const ThroughputFigure limit = block.front(); // all_implementations starts with limit
  for (ThroughputFigure& figure : block)
    figure.percent_of_limit = 100.0 * paired_ratio(figure, limit);
  return block;
}

} // namespace

double paired_ratio(const ThroughputFigure& a, const ThroughputFigure& b) {
  return paired_ratio(std::span<const double>(a.round_rates), std::span<const double>(b.round_rates));
}

std::vector<ThroughputFigure>
run_throughput(const ThroughputPlan& plan, std::vector<std::string>& failures,
               const std::function<void(std::span<const ThroughputFigure>)>& on_block) {
  std::vector<ThroughputFigure> figures;
  for (const Transport transport : all_transports)
    for (const std::size_t size : plan.message_sizes) {
      const std::vector<ThroughputFigure> block = run_block(transport, size, plan, failures);
      on_block(block);
      figures.insert(figures.end(), block.begin(), block.end());
    }
  return figures;
}

} // namespace bench
